//! Thin entry point: parse, dispatch, print. For `run`, stdout carries only the
//! AdmissionResponse line; for `bench`, only the report.

use std::process::ExitCode;

use policy_runner::{annotate, bench, cli, explain, run};

fn main() -> ExitCode {
    match execute() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole cause chain on one line and, unlike `{:?}`, never a
            // backtrace (RUST_BACKTRACE is often set in CI).
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute() -> anyhow::Result<()> {
    match cli::parse(std::env::args().skip(1))? {
        cli::Command::Help(text) => print!("{text}"),
        cli::Command::Annotate(options) => {
            for warning in annotate::annotate(&options)? {
                eprintln!("warning: {warning}");
            }
        }
        cli::Command::Run(options) => {
            let output = run::run(&options)?;
            for note in &output.notes {
                eprintln!("note: {note}");
            }
            println!("{}", output.response_line);
        }
        cli::Command::Explain(options) => print!("{}", explain::explain(&options)?),
        cli::Command::Bench(options) => {
            let report = bench::bench(&options, |step| eprintln!("bench: {step}"))?;
            print!("{}", bench::report::render(&report));
        }
    }
    Ok(())
}
