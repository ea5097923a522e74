//! Thin entry point: parse, dispatch, print. Stdout carries only the AdmissionResponse line.

use std::process::ExitCode;

use policy_runner::{annotate, cli, run};

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
    }
    Ok(())
}
