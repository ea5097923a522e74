//! What Linux tells about this process and machine: peak resident memory (with a reset, so
//! each workload gets its own peak), CPU model, core count, memory.

/// The process's peak resident set size (VmHWM), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_field(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

/// Resets VmHWM to the current RSS (Linux >= 4.0: `5` in clear_refs). False if refused,
/// in which case peaks accumulate over the run.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time (user + system) of all the process's threads so far. /proc reports it in
/// USER_HZ ticks, 100 a second on Linux, so it is precise to 10 ms.
pub fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_ticks(&stat).map(|ticks| std::time::Duration::from_millis(ticks * 10))
}

/// utime + stime: fields 14 and 15, counted after the `)` closing the command name.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_kib: Option<u64>,
}

/// The 1-minute load average: other processes competing for the CPUs skew every figure.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Machine {
    pub fn current() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            memory_kib: status_field(&meminfo, "MemTotal:"),
        }
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

/// A `Name:   1234 kB` line's number.
fn status_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_fields() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    4321 kB\n";
        assert_eq!(status_field(status, "VmHWM:"), Some(4321));
        assert_eq!(status_field(status, "VmRSS:"), None);
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
    }

    #[test]
    fn cpu_ticks_are_utime_plus_stime() {
        let stat =
            "4242 (policy (runner)) S 1 4242 4242 0 -1 4194304 500 0 0 0 731 42 0 0 20 0 3 0";
        assert_eq!(cpu_ticks(stat), Some(773));
        assert!(cpu_time().is_some());
    }

    #[test]
    fn this_process_has_a_peak() {
        assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
    }
}
