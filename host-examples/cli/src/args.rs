//! A small argument reader: flags with values, boolean switches, positionals.

use crate::Failure;
use std::io::Read;

/// Parsed command-line words.
pub struct Args {
    pub positional: Vec<String>,
    pub options: Vec<(String, Option<String>)>,
}

impl Args {
    /// Splits `words` given which flags take a value and which are switches; anything else
    /// starting with `--` is a usage error.
    pub fn parse(words: &[String], valued: &[&str], switches: &[&str]) -> Result<Args, Failure> {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut iter = words.iter();
        while let Some(w) = iter.next() {
            if w == "-" || !w.starts_with('-') {
                positional.push(w.clone());
            } else if let Some((flag, value)) =
                w.split_once('=').filter(|(f, _)| valued.contains(f))
            {
                options.push((flag.to_string(), Some(value.to_string())));
            } else if valued.contains(&w.as_str()) {
                let value = iter
                    .next()
                    .ok_or_else(|| Failure::usage(format!("{w} needs a value")))?;
                options.push((w.clone(), Some(value.clone())));
            } else if switches.contains(&w.as_str()) {
                options.push((w.clone(), None));
            } else {
                return Err(Failure::usage(format!("unknown option `{w}`")));
            }
        }
        Ok(Args {
            positional,
            options,
        })
    }

    pub fn value(&self, flag: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(f, _)| f == flag)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn switch(&self, flag: &str) -> bool {
        self.options.iter().any(|(f, _)| f == flag)
    }
}

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &str) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let result = if path == "-" {
        std::io::stdin().read_to_end(&mut buf).map(|_| ())
    } else {
        read_file(path, &mut buf)
    };
    result.map_err(|e| Failure::input(format!("{path}: {e}")))?;
    Ok(buf)
}

/// Reads a file whole into `buf`, sized from its metadata and backed by huge pages where the
/// kernel allows (`pages`).
fn read_file(path: &str, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    // A file that grows while it is read still reads whole: read_to_end grows the buffer.
    buf.reserve_exact(usize::try_from(len).unwrap_or(0));
    crate::pages::advise_huge(buf);
    file.read_to_end(buf).map(|_| ())
}

/// An output file (standard output when `None` or `-`) written in pieces, for
/// `Processor::process_traces_to`: the output is never held whole.
pub struct Output {
    name: String,
    writer: std::io::BufWriter<Box<dyn std::io::Write>>,
}

impl Output {
    pub fn create(path: Option<&str>) -> Result<Output, Failure> {
        let (name, inner): (String, Box<dyn std::io::Write>) = match path {
            None | Some("-") => ("stdout".into(), Box::new(std::io::stdout().lock())),
            Some(p) => (
                p.into(),
                Box::new(
                    std::fs::File::create(p).map_err(|e| Failure::input(format!("{p}: {e}")))?,
                ),
            ),
        };
        Ok(Output {
            name,
            writer: std::io::BufWriter::with_capacity(1 << 20, inner),
        })
    }

    /// Flushes what is buffered; an error names the output.
    pub fn finish(mut self) -> Result<(), Failure> {
        use std::io::Write;
        self.writer.flush().map_err(|e| self.failure(e))
    }

    pub fn failure(&self, e: std::io::Error) -> Failure {
        Failure::input(format!("{}: {e}", self.name))
    }
}

impl relink::otlp::splice::Sink for Output {
    type Error = std::io::Error;
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.writer.write_all(bytes)
    }
}

/// Writes to a file, or standard output when `path` is `None` or `-`.
pub fn write_output(path: Option<&str>, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    match path {
        None | Some("-") => std::io::stdout()
            .write_all(bytes)
            .map_err(|e| Failure::input(format!("stdout: {e}"))),
        Some(p) => std::fs::write(p, bytes).map_err(|e| Failure::input(format!("{p}: {e}"))),
    }
}
