//! Thin entry point: parse, dispatch, print. For `run`, stdout carries only the
//! AdmissionResponse line; for `bench`, only the report.

use std::process::ExitCode;

use clap::Parser;
use policy_runner::cli::{Cli, Command};
use policy_runner::policy_specific::{bench, explain};
use policy_runner::{annotate, run};

fn main() -> ExitCode {
    match execute(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole cause chain on one line and, unlike `{:?}`, never a
            // backtrace (RUST_BACKTRACE is often set in CI).
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Annotate(args) => {
            for warning in annotate::annotate(&args)? {
                eprintln!("warning: {warning}");
            }
        }
        Command::Run(args) => {
            let output = run::run(&args)?;
            for note in &output.notes {
                eprintln!("note: {note}");
            }
            println!("{}", output.response_line);
        }
        Command::Explain(args) => print!("{}", explain::explain(&args)?),
        Command::Bench(args) => {
            let report = bench::bench(&args, |step| eprintln!("bench: {step}"))?;
            print!("{report}");
        }
    }
    Ok(())
}
