//! Running child processes.
//!
//! [`Cmd::run`] echoes the command line (`$ cargo fmt --all --check`, with any environment
//! variables it sets in front, so it can be pasted into a shell) and then runs it with the
//! terminal attached. [`Cmd::read`] captures standard output, and [`Cmd::probe`] runs
//! quietly to ask the machine something ("is miri installed?"). A program that is not
//! installed gives "cargo not found on PATH" instead of a bare `NotFound`; a failing exit
//! status gives an [`Error`] that carries the child's exit code, so xtask can pass it on.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Why a task failed, and the exit code xtask should end with.
#[derive(Debug)]
pub struct Error {
    /// What went wrong, for a person.
    pub message: String,
    /// The exit code to end with: the failing child's own code when there is one.
    pub exit_code: i32,
}

impl Error {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(message)
    }
}

/// The result type of every task.
pub type Result<T> = std::result::Result<T, Error>;

/// A command line to run: program, arguments, extra environment and working directory.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dir: Option<PathBuf>,
    timeout: Option<Duration>,
}

impl Cmd {
    /// `program`, looked up on `PATH`, with no arguments yet.
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            dir: None,
            timeout: None,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child (shown in the echoed command line).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Runs the child in `dir` instead of the current directory.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Kills the child if it has not finished after `timeout` (for things that may wait on
    /// the network, like `rustup target add`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The command line as a shell would take it, environment assignments first.
    pub fn display(&self) -> String {
        let envs = self
            .envs
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)));
        let words = std::iter::once(shell_quote(&self.program))
            .chain(self.args.iter().map(|a| shell_quote(a)));
        envs.chain(words).collect::<Vec<_>>().join(" ")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }

    fn spawn(&self, command: &mut Command) -> Result<Child> {
        command.spawn().map_err(|err| {
            if err.kind() == io::ErrorKind::NotFound {
                Error::new(format!("{} not found on PATH", self.program))
            } else {
                Error::new(format!("could not start `{}`: {err}", self.display()))
            }
        })
    }

    /// Echoes the command line, runs it with the terminal attached and waits.
    ///
    /// # Errors
    ///
    /// The program is missing, timed out, or exited unsuccessfully (the error then carries
    /// its exit code).
    pub fn run(&self) -> Result<()> {
        println!("$ {}", self.display());
        let mut child = self.spawn(&mut self.command())?;
        let status = self.wait(&mut child)?;
        self.check(status, "")
    }

    /// Echoes the command line, runs it and returns its standard output; its standard error
    /// goes to the terminal.
    ///
    /// # Errors
    ///
    /// As for [`Cmd::run`].
    pub fn read(&self) -> Result<String> {
        println!("$ {}", self.display());
        let (status, stdout, _) = self.capture(Stdio::inherit())?;
        self.check(status, "")?;
        Ok(stdout)
    }

    /// Runs the command without echoing it or showing its output.
    ///
    /// # Errors
    ///
    /// A one-line reason when the program is missing or fails (with the first line of its
    /// standard error), for messages like "skipped: nightly miri not installed".
    pub fn probe(&self) -> std::result::Result<String, String> {
        let (status, stdout, stderr) = self.capture(Stdio::piped()).map_err(|e| e.message)?;
        let first_stderr_line = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        self.check(status, first_stderr_line)
            .map(|()| stdout)
            .map_err(|e| e.message)
    }

    /// Runs with standard output (and, when asked, standard error) captured, reading both
    /// on helper threads so a chatty child cannot fill a pipe and stall.
    fn capture(&self, stderr: Stdio) -> Result<(ExitStatus, String, String)> {
        let mut command = self.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = self.spawn(&mut command)?;
        let stdout = child.stdout.take().map(read_on_thread);
        let stderr = child.stderr.take().map(read_on_thread);
        let status = self.wait(&mut child)?;
        let join = |reader: Option<thread::JoinHandle<String>>| {
            reader
                .map(|r| r.join().unwrap_or_default())
                .unwrap_or_default()
        };
        Ok((status, join(stdout), join(stderr)))
    }

    fn wait(&self, child: &mut Child) -> Result<ExitStatus> {
        let waited = match self.timeout {
            None => child.wait(),
            Some(limit) => {
                let deadline = Instant::now() + limit;
                loop {
                    match child.try_wait() {
                        Ok(Some(status)) => break Ok(status),
                        Ok(None) if Instant::now() >= deadline => {
                            // The child may have exited in between; either way it is gone.
                            let _ = child.kill();
                            let _ = child.wait();
                            return Err(Error::new(format!(
                                "`{}` timed out after {} s",
                                self.display(),
                                limit.as_secs()
                            )));
                        }
                        Ok(None) => thread::sleep(Duration::from_millis(50)),
                        Err(err) => break Err(err),
                    }
                }
            }
        };
        waited.map_err(|err| Error::new(format!("waiting for `{}`: {err}", self.display())))
    }

    fn check(&self, status: ExitStatus, detail: &str) -> Result<()> {
        if status.success() {
            return Ok(());
        }
        let how = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "a signal".to_owned(),
        };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {}", detail.trim())
        };
        Err(Error {
            message: format!("`{}` failed with {how}{detail}", self.display()),
            exit_code: status.code().filter(|&c| c != 0).unwrap_or(1),
        })
    }
}

fn read_on_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `word` quoted for a POSIX shell when it needs to be (`'*'`, `'--cfg admit_loom'`).
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=+./:,@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A `cargo` command run from the workspace root.
pub fn cargo(root: &Path) -> Cmd {
    Cmd::new("cargo").current_dir(root)
}

/// The path as a string for a command line, relative to `root` when it is inside it.
pub fn display_path(root: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(root).unwrap_or(path);
    let shown: &OsStr = shown.as_os_str();
    shown.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let cmd = Cmd::new("cargo")
            .args(["bench", "--bench", "*", "--", "--quick"])
            .env("RUSTFLAGS", "--cfg admit_loom")
            .env("LOOM_MAX_PREEMPTIONS", "2");
        assert_eq!(
            cmd.display(),
            "RUSTFLAGS='--cfg admit_loom' LOOM_MAX_PREEMPTIONS=2 cargo bench --bench '*' -- --quick"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn missing_program_is_named() {
        let err = Cmd::new("xtask-no-such-program").probe().unwrap_err();
        assert_eq!(err, "xtask-no-such-program not found on PATH");
    }

    #[test]
    fn failure_carries_exit_code_and_stderr() {
        let cmd = Cmd::new("sh").args(["-c", "echo out; echo oops >&2; exit 3"]);
        let err = cmd.probe().unwrap_err();
        assert!(err.contains("exit code 3: oops"), "{err}");
        let err = Cmd::new("sh").args(["-c", "exit 3"]).run().unwrap_err();
        assert_eq!(err.exit_code, 3);
        assert_eq!(
            Cmd::new("sh").args(["-c", "echo hi"]).probe().unwrap(),
            "hi\n"
        );
    }

    #[test]
    fn timeout_kills_the_child() {
        let started = Instant::now();
        let err = Cmd::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(200))
            .probe()
            .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
