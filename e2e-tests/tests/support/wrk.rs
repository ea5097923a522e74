//! What a `wrk` run printed: requests per second and latency percentiles, for the PolicyServer
//! load benchmark (`tests/bench_policy_server.rs`).

/// What one wrk run measured.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Reads `Requests/sec`, the 50 % and 99 % latencies, and refuses any error wrk counted.
pub fn parse_wrk(text: &str) -> Result<Load, String> {
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
    };
    if let Some(line) = text.lines().find(|l| l.contains("Socket errors")) {
        return Err(format!("connection errors: {}", line.trim()));
    }
    if let Some(count) = field("Non-2xx or 3xx responses:") {
        return Err(format!("{count} answers were not HTTP 200"));
    }
    let requests_per_second = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or("no Requests/sec")?;
    let latency = |percent: &str| {
        field(percent)
            .and_then(|v| duration_ms(&v))
            .ok_or(format!("no {percent} latency"))
    };
    Ok(Load {
        requests_per_second,
        p50_ms: latency("50%")?,
        p99_ms: latency("99%")?,
    })
}

/// wrk's durations: `812.00us`, `1.23ms`, `1.02s`, `2.00m`.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_output_is_parsed() {
        let text = "Running 8s test @ http://127.0.0.1:1/validate/noop
      1 threads and 8 connections
      Thread Stats   Avg      Stdev     Max   +/- Stdev
        Latency     3.10ms    1.20ms  30.00ms   90.00%
        Req/Sec     2.55k   100.00     2.80k    70.00%
      Latency Distribution
         50%  812.00us
         75%    3.50ms
         90%    4.10ms
         99%    1.02s
      20400 requests in 8.00s, 5.00MB read
    Requests/sec:   2550.12
    Transfer/sec:    640.00KB
    ";
        let load = super::parse_wrk(text).unwrap();
        assert_eq!(load.requests_per_second, 2550.12);
        assert!((load.p50_ms - 0.812).abs() < 1e-9);
        assert_eq!(load.p99_ms, 1020.0);
        let failing = text.replace("Requests/sec", "Non-2xx or 3xx responses: 3\nRequests/sec");
        assert_eq!(
            super::parse_wrk(&failing).unwrap_err(),
            "3 answers were not HTTP 200"
        );
    }
}
