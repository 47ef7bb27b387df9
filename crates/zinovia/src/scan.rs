//! Malware scanning through clamd's `INSTREAM` command: the file is streamed in chunks of
//! `u32` big-endian length + bytes, ended by a zero-length chunk; clamd answers `stream: OK`,
//! `stream: <signature> FOUND`, or `INSTREAM size limit exceeded. ERROR` (after which it
//! closes the connection, so a broken pipe while sending still has an answer to read).
//! A scanner that cannot be reached is an error, never "clean".

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes sent per chunk.
const CHUNK: usize = 64 * 1024;

/// What clamd said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No known malware.
    Clean,
    /// Known malware, with the signature's name.
    Infected(String),
    /// Over clamd's size limits, so not scanned (fail closed: refuse the file).
    TooLarge,
}

/// Why a scan did not give a verdict (retry later).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// clamd could not be reached or broke off.
    #[error("clamd at {addr} is unreachable: {source}")]
    Unreachable {
        /// Its address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// clamd took too long.
    #[error("clamd did not answer within {0:?}")]
    Timeout(Duration),
    /// clamd answered something we do not understand.
    #[error("clamd answered: {0}")]
    Unexpected(String),
}

/// A clamd server.
#[derive(Debug, Clone)]
pub struct Clamd {
    addr: String,
    timeout: Duration,
}

impl Clamd {
    /// clamd at `addr` (`host:port`), each scan bounded by `timeout`.
    pub fn new(addr: impl Into<String>, timeout: Duration) -> Clamd {
        Clamd {
            addr: addr.into(),
            timeout,
        }
    }

    fn unreachable(&self, source: std::io::Error) -> ScanError {
        ScanError::Unreachable {
            addr: self.addr.clone(),
            source,
        }
    }

    /// `PING` → `PONG`.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let reply = tokio::time::timeout(self.timeout, async {
            let mut s = TcpStream::connect(&self.addr)
                .await
                .map_err(|e| self.unreachable(e))?;
            s.write_all(b"zPING\0")
                .await
                .map_err(|e| self.unreachable(e))?;
            read_reply(&mut s).await.map_err(|e| self.unreachable(e))
        })
        .await
        .map_err(|_| ScanError::Timeout(self.timeout))??;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ScanError::Unexpected(reply))
        }
    }

    /// Scans a file.
    pub async fn scan_file(&self, path: &Path) -> Result<Verdict, ScanError> {
        tokio::time::timeout(self.timeout, self.scan_inner(path))
            .await
            .map_err(|_| ScanError::Timeout(self.timeout))?
    }

    async fn scan_inner(&self, path: &Path) -> Result<Verdict, ScanError> {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| self.unreachable(e))?;
        let sent = async {
            stream.write_all(b"zINSTREAM\0").await?;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                let len = u32::try_from(n).map_err(std::io::Error::other)?;
                stream.write_all(&len.to_be_bytes()).await?;
                stream.write_all(&buf[..n]).await?;
            }
            stream.write_all(&0u32.to_be_bytes()).await?;
            stream.flush().await
        }
        .await;
        // Over the size limit clamd answers and closes; read the answer either way.
        let reply = match read_reply(&mut stream).await {
            Ok(r) if !r.is_empty() => r,
            Ok(_) | Err(_) => {
                return Err(self.unreachable(sent.err().unwrap_or_else(|| {
                    std::io::Error::other("clamd closed the connection without an answer")
                })));
            }
        };
        parse_reply(&reply)
    }
}

async fn read_reply(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte).await? {
            0 => break,
            _ if byte[0] == 0 => break,
            _ => out.push(byte[0]),
        }
        if out.len() > 4096 {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

fn parse_reply(reply: &str) -> Result<Verdict, ScanError> {
    let body = reply.strip_prefix("stream: ").unwrap_or(reply);
    if body == "OK" {
        return Ok(Verdict::Clean);
    }
    if reply.contains("size limit exceeded") {
        return Ok(Verdict::TooLarge);
    }
    if let Some(sig) = body.strip_suffix(" FOUND") {
        // With `AlertExceedsMax yes`, files over the scan limits are reported as found.
        if sig.starts_with("Heuristics.Limits.Exceeded") {
            return Ok(Verdict::TooLarge);
        }
        return Ok(Verdict::Infected(sig.to_owned()));
    }
    Err(ScanError::Unexpected(reply.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_understood() {
        assert_eq!(parse_reply("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply("stream: Zinovia.Test.EICAR.UNOFFICIAL FOUND").unwrap(),
            Verdict::Infected("Zinovia.Test.EICAR.UNOFFICIAL".into())
        );
        assert_eq!(
            parse_reply("INSTREAM size limit exceeded. ERROR").unwrap(),
            Verdict::TooLarge
        );
        assert_eq!(
            parse_reply("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND").unwrap(),
            Verdict::TooLarge
        );
        assert!(parse_reply("UNKNOWN COMMAND").is_err());
    }
}
