//! What a `wrk` run printed, for the PolicyServer load benchmark (`tests/bench_policy_server.rs`):
//! its requests per second, or why the run does not count.

/// `Requests/sec`, refused when wrk counted a connection error or an answer other than 2xx/3xx.
pub fn requests_per_second(text: &str) -> Result<f64, String> {
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .map(str::trim)
    };
    if let Some(errors) = field("Socket errors:") {
        return Err(format!("connection errors: {errors}"));
    }
    if let Some(count) = field("Non-2xx or 3xx responses:") {
        return Err(format!("{count} answers were not HTTP 200"));
    }
    field("Requests/sec:")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| "no Requests/sec".to_string())
}

#[cfg(test)]
mod tests {
    const RUN: &str = "Running 8s test @ http://127.0.0.1:1/validate/noop
  1 threads and 8 connections
  20400 requests in 8.00s, 5.00MB read
Requests/sec:   2550.12
Transfer/sec:    640.00KB
";

    #[test]
    fn a_clean_run_gives_its_rate_and_errors_refuse_it() {
        use super::requests_per_second;
        assert_eq!(requests_per_second(RUN), Ok(2550.12));
        let refused = |line: &str| requests_per_second(&RUN.replace("Requests/sec", line));
        assert_eq!(
            refused("Non-2xx or 3xx responses: 3\nRequests/sec"),
            Err("3 answers were not HTTP 200".to_string())
        );
        assert_eq!(
            refused("  Socket errors: connect 0, read 2, write 0, timeout 0\nRequests/sec"),
            Err("connection errors: connect 0, read 2, write 0, timeout 0".to_string())
        );
        assert_eq!(refused("Transfer"), Err("no Requests/sec".to_string()));
    }
}
