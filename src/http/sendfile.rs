//! Sending a range of a file to a socket: `sendfile(2)` on Linux, so blob bytes go from the page
//! cache to the socket without a copy through user space; a buffered copy elsewhere.

use std::io;
use std::time::Duration;

use monoio::net::TcpStream;
use storage_engine::BlobFile;

/// Sends `length` bytes of `file` from `offset`; fails with [`io::ErrorKind::TimedOut`] when the
/// socket takes no byte for `stall_timeout` (a client that stopped reading).
#[cfg(target_os = "linux")]
pub(crate) async fn send_file(
    stream: &mut TcpStream,
    file: &BlobFile,
    offset: u64,
    length: u64,
    stall_timeout: Duration,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    let socket = stream.as_raw_fd();
    let restore = NonBlocking::set(socket)?;
    let result = send_range(stream, socket, file, offset, length, stall_timeout).await;
    restore.restore()?;
    result
}

#[cfg(target_os = "linux")]
async fn send_range(
    stream: &mut TcpStream,
    socket: std::os::fd::RawFd,
    file: &BlobFile,
    offset: u64,
    length: u64,
    stall_timeout: Duration,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    use crate::http::response::stalled;
    use crate::limits::SENDFILE_CALL_BYTES_MAX;

    let end = offset
        .checked_add(length)
        .ok_or_else(|| io::Error::other("range past u64"))?;
    let mut position = i64::try_from(offset).map_err(io::Error::other)?;
    // Each pass sends at least one byte, waits for the socket (at most the stall timeout), or
    // fails.
    while (position as u64) < end {
        let count = usize::try_from(end - position as u64)
            .unwrap_or(usize::MAX)
            .min(SENDFILE_CALL_BYTES_MAX);
        // SAFETY: both descriptors are open for the call (the stream and the file are borrowed),
        // and `position` is an exclusive, valid off_t that sendfile advances.
        let sent = unsafe { libc::sendfile(socket, file.file().as_raw_fd(), &mut position, count) };
        if sent > 0 {
            continue;
        }
        if sent == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the blob file ended before its range",
            ));
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::WouldBlock => {
                // A dropped wait is cancelled in the kernel (monoio's `async-cancel`).
                match monoio::time::timeout(stall_timeout, stream.writable(false)).await {
                    Ok(ready) => ready?,
                    Err(_) => return Err(stalled()),
                }
            }
            io::ErrorKind::Interrupted => {}
            _ => return Err(error),
        }
    }
    Ok(())
}

/// `sendfile` on a blocking socket would block the whole core while the peer is slow, so the
/// socket is non-blocking for the call and waits go through the runtime. monoio's io_uring driver
/// keeps accepted sockets blocking (its reads rely on that), so the flag is put back after.
#[cfg(target_os = "linux")]
struct NonBlocking {
    socket: std::os::fd::RawFd,
    /// The flags to put back, when they had to change.
    previous: Option<libc::c_int>,
}

#[cfg(target_os = "linux")]
impl NonBlocking {
    fn set(socket: std::os::fd::RawFd) -> io::Result<NonBlocking> {
        // SAFETY: F_GETFL on a descriptor the caller keeps open; no memory is passed.
        let flags = unsafe { libc::fcntl(socket, libc::F_GETFL) };
        if flags == -1 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK != 0 {
            return Ok(NonBlocking {
                socket,
                previous: None,
            });
        }
        // SAFETY: as above, F_SETFL with an integer argument.
        if unsafe { libc::fcntl(socket, libc::F_SETFL, flags | libc::O_NONBLOCK) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(NonBlocking {
            socket,
            previous: Some(flags),
        })
    }

    fn restore(self) -> io::Result<()> {
        let Some(flags) = self.previous else {
            return Ok(());
        };
        // SAFETY: F_SETFL with an integer argument on the same open descriptor.
        if unsafe { libc::fcntl(self.socket, libc::F_SETFL, flags) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Elsewhere: read the range in pieces and write them (the buffered path TLS will use too).
#[cfg(not(target_os = "linux"))]
pub(crate) async fn send_file(
    stream: &mut TcpStream,
    file: &BlobFile,
    offset: u64,
    length: u64,
    stall_timeout: Duration,
) -> io::Result<()> {
    use crate::http::response::write_all;
    use crate::limits::CONNECTION_READ_BYTES;

    let end = offset + length;
    let mut position = offset;
    let mut buffer = Vec::with_capacity(CONNECTION_READ_BYTES);
    while position < end {
        buffer.clear();
        let (read, returned) = file.read_at(buffer, position).await;
        buffer = returned;
        let count = read?;
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the blob file ended before its range",
            ));
        }
        let count = count.min(usize::try_from(end - position).unwrap_or(usize::MAX));
        buffer.truncate(count);
        let (written, returned) = write_all(stream, buffer, stall_timeout).await;
        written?;
        buffer = returned.expect("a write that did not stall hands its buffer back");
        position += count as u64;
    }
    Ok(())
}
