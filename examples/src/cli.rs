//! The examples' command lines: `--name value` or `--name=value` options, `--runtime` among
//! them, and `--help`. Small enough not to need an argument-parsing crate.

use std::fmt::Display;
use std::process::ExitCode;
use std::str::FromStr;

use crate::RuntimeChoice;

/// Parsed `--name value` options.
///
/// # Examples
///
/// ```
/// use admit_examples::{RuntimeChoice, cli::Options};
///
/// let args = ["--runtime", "smol", "--rate=20"].map(String::from);
/// let options = Options::from_args(args, &["rate"]).unwrap();
/// assert_eq!(options.runtime().unwrap(), RuntimeChoice::Smol);
/// assert_eq!(options.get("rate", 50_u64).unwrap(), 20);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    pairs: Vec<(String, String)>,
}

impl Options {
    /// Parses `args` (without the program name), accepting `--runtime` and the `known`
    /// option names.
    ///
    /// # Errors
    ///
    /// An unknown option, a missing value, or a stray argument.
    pub fn from_args<I>(args: I, known: &[&str]) -> Result<Self, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut pairs = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(option) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument `{arg}`"));
            };
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("`--{option}` needs a value"))?;
                    (option.to_owned(), value)
                }
            };
            if name != "runtime" && !known.contains(&name.as_str()) {
                return Err(format!("unknown option `--{name}`"));
            }
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// The value of `--name` (the last one given), or `default`.
    ///
    /// # Errors
    ///
    /// A value that does not parse as a `T`.
    pub fn get<T>(&self, name: &str, default: T) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.pairs.iter().rev().find(|(n, _)| n == name) {
            Some((_, value)) => value
                .parse()
                .map_err(|e| format!("bad value `{value}` for `--{name}`: {e}")),
            None => Ok(default),
        }
    }

    /// `--runtime`, tokio by default.
    ///
    /// # Errors
    ///
    /// An unknown runtime name.
    pub fn runtime(&self) -> Result<RuntimeChoice, String> {
        self.get("runtime", RuntimeChoice::default())
    }
}

/// Parses the process's arguments for an example: prints `usage` and exits 0 on `--help`,
/// prints the error and the usage and exits 2 on a bad command line.
#[must_use]
pub fn parse_or_exit(usage: &str, known: &[&str]) -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        std::process::exit(0);
    }
    Options::from_args(args, known).unwrap_or_else(|error| exit_usage(&error, usage))
}

/// Prints a command-line error and the usage, and exits 2.
pub fn exit_usage(error: &str, usage: &str) -> ! {
    eprintln!("error: {error}\n\n{usage}");
    std::process::exit(2)
}

/// The exit status of an example: success if `check` passed, else prints why and fails.
#[must_use]
pub fn verdict(check: Result<(), String>) -> ExitCode {
    match check {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("FAILED: {why}");
            ExitCode::FAILURE
        }
    }
}
