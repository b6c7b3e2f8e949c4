//! `websock._websock`: the private native module of the Python binding.
//!
//! It is deliberately small. It starts a core `websock::Server` whose handler is an
//! `events::EventQueue`, so no Python code ever runs on the Rust loop threads and no Rust
//! thread ever attaches to the interpreter (interpreter shutdown cannot race a callback).
//! Python pulls events in batches (`drain`, `next_batch`, or the readiness `fd` under
//! asyncio) and calls the raw operations below; `Server`, `Connection`, decorators and the
//! asyncio layer are written in Python (python/websock).
//!
//! Every core error becomes a Python exception in exactly one place: [`to_py_err`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString, PyTuple};

use websock::events::{Event, EventQueue};
use websock::{
    Accept, Backpressure, Bind, Compression, ConnId, HttpResponse, KeepHeaders, Message, Options, Server,
    SlowConsumerPolicy, TlsConfig,
};

/// Event kinds, the first item of every event tuple (mirrored in python/websock/_server.py).
const EV_MESSAGE: u8 = 0;
const EV_OPEN: u8 = 1;
const EV_CLOSE: u8 = 2;
const EV_DRAIN: u8 = 3;
const EV_UPGRADE: u8 = 4;
const EV_SHUTDOWN: u8 = 5;

/// The Python exception classes live in `websock._errors`; imported once.
static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The single mapping from core errors to the `websock.WebSocketError` hierarchy.
fn to_py_err(py: Python<'_>, e: websock::Error) -> PyErr {
    let module = match ERRORS.get_or_try_init(py, || py.import("websock._errors").map(Bound::unbind)) {
        Ok(m) => m.bind(py),
        Err(err) => return err,
    };
    let msg = e.to_string();
    let made = match &e {
        websock::Error::UnknownConnection => module.getattr("ConnectionClosed").and_then(|c| c.call1((msg,))),
        websock::Error::ServerClosed => module.getattr("ServerClosed").and_then(|c| c.call1((msg,))),
        websock::Error::InvalidArgument(_) => module.getattr("InvalidArgument").and_then(|c| c.call1((msg,))),
        websock::Error::Tls(_) => module.getattr("TLSError").and_then(|c| c.call1((msg,))),
        websock::Error::Io(io) => {
            // OSError(errno, strerror) so that `.errno` works as with any socket error.
            let errno = io.raw_os_error().unwrap_or(0);
            module.getattr("WebSocketOSError").and_then(|c| c.call1((errno, msg)))
        }
    };
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

trait IntoPyResult<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for websock::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py_err(py, e))
    }
}

/// Runs `f` with the message a Python object denotes: `str` is text, `bytes`,
/// `bytearray` and `memoryview` are binary. No copy for `str` and `bytes`.
fn with_message<R>(data: &Bound<'_, PyAny>, f: impl FnOnce(Message<'_>) -> R) -> PyResult<R> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(f(Message::Binary(b.as_bytes())));
    }
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(f(Message::Text(s.to_str()?)));
    }
    if let Ok(b) = data.cast::<PyByteArray>() {
        return Ok(f(Message::Binary(&b.to_vec())));
    }
    if data.is_instance_of::<PyMemoryView>() {
        let b = data.py().get_type::<PyBytes>().call1((data,))?;
        let b = b.cast::<PyBytes>()?;
        return Ok(f(Message::Binary(b.as_bytes())));
    }
    Err(PyTypeError::new_err(format!(
        "a message is str (text) or bytes / bytearray / memoryview (binary), not {}",
        data.get_type().name()?
    )))
}

fn id_of(raw: u64) -> ConnId {
    ConnId::from_raw(raw)
}

fn secs(v: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| PyValueError::new_err(format!("{what} must be a non-negative number of seconds")))
}

/// The upgrade request of a connection (wraps the core's shared `Request`; cheap to keep).
#[pyclass(frozen, module = "websock._websock", name = "Request")]
pub struct PyRequest {
    inner: Arc<websock::Request>,
}

#[pymethods]
impl PyRequest {
    #[getter]
    fn method(&self) -> &str {
        self.inner.method()
    }
    #[getter]
    fn path(&self) -> &str {
        self.inner.path()
    }
    #[getter]
    fn query(&self) -> &str {
        self.inner.query()
    }
    #[getter]
    fn target(&self) -> &str {
        self.inner.target()
    }
    /// Header (name, value) pairs; names are lower-case. All of them in the upgrade hook,
    /// only the kept ones (`keep_headers`) once the connection is open.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.inner.headers().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }
    #[pyo3(signature = (name, default=None))]
    fn header(&self, name: &str, default: Option<String>) -> Option<String> {
        self.inner.header(name).map(str::to_string).or(default)
    }
    #[pyo3(signature = (name, default=None))]
    fn cookie(&self, name: &str, default: Option<String>) -> Option<String> {
        self.inner.cookie(name).map(str::to_string).or(default)
    }
    #[getter]
    fn subprotocol(&self) -> Option<&str> {
        self.inner.subprotocol()
    }
    /// The `Sec-WebSocket-Extensions` value of the server's 101 answer (what was agreed,
    /// e.g. "permessage-deflate; server_no_context_takeover"); None when nothing was
    /// agreed, and always None in the upgrade hook (the answer is not made yet).
    #[getter]
    fn extensions(&self) -> Option<&str> {
        self.inner.extensions()
    }
    /// Whether permessage-deflate was negotiated for the connection.
    #[getter]
    fn permessage_deflate(&self) -> bool {
        self.inner.permessage_deflate()
    }
    #[getter]
    fn offered_subprotocols(&self) -> Vec<String> {
        self.inner.offered_subprotocols().map(str::to_string).collect()
    }
    /// `(ip, port)` of the TCP peer.
    #[getter]
    fn remote_address(&self) -> (String, u16) {
        let a = self.inner.remote_addr();
        (a.ip().to_string(), a.port())
    }
    /// The client's IP: the peer, or what a trusted proxy forwarded for.
    #[getter]
    fn client_ip(&self) -> String {
        self.inner.client_ip().to_string()
    }
    fn __repr__(&self) -> String {
        format!("<Request {} {} from {}>", self.inner.method(), self.inner.target(), self.inner.remote_addr())
    }
}

/// A running core server plus its event queue.
#[pyclass(frozen, module = "websock._websock", name = "NativeServer")]
pub struct NativeServer {
    server: Server,
    queue: Arc<EventQueue>,
    /// Reused by `drain` so a batch costs no Rust allocation.
    scratch: Mutex<Vec<Event>>,
}

/// Fills `Options` from the keyword dict built by python/websock/_server.py. Only keys
/// present change a default, so the core stays the one owner of default values; a key
/// given as None turns the feature off where the core allows it (keepalive).
fn options_from(opts: &Bound<'_, PyDict>) -> PyResult<Options> {
    let mut o = Options::default();
    let get = |k: &str| opts.get_item(k);
    let host: String = get("host")?.map(|v| v.extract()).transpose()?.unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = get("port")?.map(|v| v.extract()).transpose()?.unwrap_or(0);
    o.bind = match get("fd")? {
        Some(fd) if !fd.is_none() => Bind::Fd(fd.extract()?),
        _ => {
            let h = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
            Bind::Addr(format!("{h}:{port}"))
        }
    };
    if let Some(v) = get("loops")? {
        o.loops = v.extract()?;
    }
    if let Some(v) = get("backlog")? {
        o.backlog = v.extract()?;
    }
    if let Some(v) = get("reuse_port")? {
        o.reuse_port = v.extract()?;
    }
    if let Some(v) = get("tls")? {
        if !v.is_none() {
            let (cert, key): (Vec<u8>, Vec<u8>) = v.extract()?;
            o.tls = Some(TlsConfig::from_pem(&cert, &key).py(opts.py())?);
        }
    }
    if let Some(v) = get("origins")? {
        o.origins = v.extract()?;
    }
    if let Some(v) = get("subprotocols")? {
        o.subprotocols = v.extract()?;
    }
    if let Some(v) = get("keep_headers")? {
        o.keep_headers = if v.is_none() {
            KeepHeaders::None
        } else if v.cast::<PyString>().is_ok() {
            let s: String = v.extract()?;
            if s != "all" && s != "*" {
                return Err(PyValueError::new_err("keep_headers is 'all', a list of header names, or None"));
            }
            KeepHeaders::All
        } else {
            KeepHeaders::Names(v.extract()?)
        };
    }
    if let Some(v) = get("trusted_proxies")? {
        let ips: Vec<String> = v.extract()?;
        o.trusted_proxies = ips
            .iter()
            .map(|s| s.parse().map_err(|_| PyValueError::new_err(format!("trusted proxy {s:?} is not an IP address"))))
            .collect::<PyResult<_>>()?;
    }
    let size = |k: &str| -> PyResult<Option<usize>> { get(k)?.filter(|v| !v.is_none()).map(|v| v.extract()).transpose() };
    let dur = |k: &str| -> PyResult<Option<Duration>> {
        get(k)?.filter(|v| !v.is_none()).map(|v| secs(v.extract()?, k)).transpose()
    };
    if let Some(v) = size("max_message_size")? {
        o.limits.max_message_size = v;
    }
    if let Some(v) = size("max_frame_size")? {
        o.limits.max_frame_size = v;
    }
    if let Some(v) = size("max_request_head")? {
        o.limits.max_request_head = v;
    }
    if let Some(v) = dur("handshake_timeout")? {
        o.limits.handshake_timeout = v;
    }
    if let Some(v) = dur("close_timeout")? {
        o.limits.close_timeout = v;
    }
    // Keepalive: a present key set to None switches that timer off.
    if let Some(v) = get("ping_interval")? {
        o.keepalive.ping_interval = if v.is_none() { None } else { Some(secs(v.extract()?, "ping_interval")?) };
    }
    if let Some(v) = get("idle_timeout")? {
        o.keepalive.idle_timeout = if v.is_none() { None } else { Some(secs(v.extract()?, "idle_timeout")?) };
    }
    let mut bp = Backpressure::default();
    if let Some(v) = size("max_buffered")? {
        bp.max_buffered = v;
    }
    if let Some(v) = size("drain_threshold")? {
        bp.drain_threshold = v;
    }
    if let Some(v) = get("slow_consumer")? {
        if !v.is_none() {
            let s: String = v.extract()?;
            bp.policy = match s.as_str() {
                "drop" => SlowConsumerPolicy::DropNewest,
                "close" => {
                    let code = get("slow_consumer_code")?.map(|c| c.extract()).transpose()?.unwrap_or(1008);
                    SlowConsumerPolicy::Close(code)
                }
                _ => return Err(PyValueError::new_err("slow_consumer is 'close' or 'drop'")),
            };
        }
    }
    o.backpressure = bp;
    // permessage-deflate: "compression_mode" is None (off), "shared" or "dedicated".
    if let Some(v) = get("compression_mode")? {
        if !v.is_none() {
            let mode: String = v.extract()?;
            let mut c = match mode.as_str() {
                "shared" => Compression::shared(),
                "dedicated" => {
                    let bits: u8 = get("compression_window_bits")?
                        .filter(|v| !v.is_none())
                        .ok_or_else(|| PyValueError::new_err("dedicated compression needs window_bits (9..15)"))?
                        .extract()?;
                    Compression::dedicated(bits)
                }
                _ => return Err(PyValueError::new_err("compression mode is 'shared', 'dedicated' or None")),
            };
            if let Some(v) = size("compression_threshold")? {
                c.threshold = v;
            }
            if let Some(v) = get("compression_level")?.filter(|v| !v.is_none()) {
                c.level = v.extract()?;
            }
            if let Some(v) = size("compression_max_dedicated")? {
                c.max_dedicated = v;
            }
            o.compression = c; // checked by the core when the server starts
        }
    }
    Ok(o)
}

fn event_to_py<'py>(py: Python<'py>, ev: Event) -> PyResult<Bound<'py, PyAny>> {
    Ok(match ev {
        Event::Message { id, data, text } => {
            let payload = if text {
                // The core validated the UTF-8 already; from_utf8 is a cheap re-check that
                // keeps this safe code.
                match std::str::from_utf8(&data) {
                    Ok(s) => PyString::new(py, s).into_any(),
                    Err(_) => PyBytes::new(py, &data).into_any(),
                }
            } else {
                PyBytes::new(py, &data).into_any()
            };
            (EV_MESSAGE, id.to_raw(), payload).into_pyobject(py)?.into_any()
        }
        Event::Open { id, request } => {
            (EV_OPEN, id.to_raw(), Bound::new(py, PyRequest { inner: request })?).into_pyobject(py)?.into_any()
        }
        Event::Close { id, code, reason, kind } => {
            (EV_CLOSE, id.to_raw(), code, reason, kind.as_str()).into_pyobject(py)?.into_any()
        }
        Event::Drain { id } => (EV_DRAIN, id.to_raw()).into_pyobject(py)?.into_any(),
        Event::Upgrade { id, request } => {
            (EV_UPGRADE, id.to_raw(), Bound::new(py, PyRequest { inner: request })?).into_pyobject(py)?.into_any()
        }
        Event::Shutdown => PyTuple::new(py, [EV_SHUTDOWN])?.into_any(),
    })
}

#[pymethods]
impl NativeServer {
    /// Binds and starts the loops. `options` is a dict (see `options_from`);
    /// `upgrade_hook` defers every upgrade to Python as an upgrade event.
    #[new]
    #[pyo3(signature = (options, upgrade_hook=false))]
    fn new(py: Python<'_>, options: &Bound<'_, PyDict>, upgrade_hook: bool) -> PyResult<NativeServer> {
        let opts = options_from(options)?;
        let queue = EventQueue::new(upgrade_hook).map_err(|e| to_py_err(py, e.into()))?;
        let handler = queue.handler();
        let server = py.detach(move || Server::start(opts, Arc::new(handler))).py(py)?;
        Ok(NativeServer {
            server,
            queue,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// `(host, port)` actually bound.
    #[getter]
    fn address(&self) -> (String, u16) {
        let a = self.server.local_addr();
        (a.ip().to_string(), a.port())
    }

    /// Readable while events are queued (for `loop.add_reader`). Owned by the server.
    fn fd(&self) -> i32 {
        self.queue.fd()
    }

    /// Takes up to `max` queued events as a list of tuples; never blocks.
    #[pyo3(signature = (max=1024))]
    fn drain<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyList>> {
        let mut buf = self.scratch.lock().unwrap();
        buf.clear();
        self.queue.drain(max, &mut buf);
        let items = buf.drain(..).map(|ev| event_to_py(py, ev)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Blocks (GIL released) until an event is queued or `timeout` seconds pass
    /// (None: forever); true if events are queued. Signals are checked every 100 ms so
    /// Ctrl-C interrupts it.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let end = match timeout {
            Some(t) => Some(Instant::now() + secs(t, "timeout")?),
            None => None,
        };
        loop {
            let slice = match end {
                Some(end) => end.saturating_duration_since(Instant::now()).min(Duration::from_millis(100)),
                None => Duration::from_millis(100),
            };
            if py.detach(|| self.queue.wait(Some(slice))) {
                return Ok(true);
            }
            py.check_signals()?;
            if end.is_some_and(|end| Instant::now() >= end) {
                return Ok(false);
            }
        }
    }

    /// `wait` then `drain` in one call: the run loop's only crossing per batch.
    #[pyo3(signature = (max=1024, timeout=None))]
    fn next_batch<'py>(&self, py: Python<'py>, max: usize, timeout: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        if self.queue.is_empty() {
            self.wait(py, timeout)?;
        }
        self.drain(py, max)
    }

    fn send(&self, py: Python<'_>, id: u64, data: &Bound<'_, PyAny>) -> PyResult<()> {
        with_message(data, |m| self.server.send(id_of(id), m))?.py(py)
    }

    #[pyo3(signature = (id, payload=None))]
    fn ping(&self, py: Python<'_>, id: u64, payload: Option<&[u8]>) -> PyResult<()> {
        self.server.ping(id_of(id), payload.unwrap_or(b"")).py(py)
    }

    #[pyo3(signature = (id, code=1000, reason=""))]
    fn close(&self, py: Python<'_>, id: u64, code: u16, reason: &str) -> PyResult<()> {
        self.server.close(id_of(id), code, reason).py(py)
    }

    fn tag(&self, py: Python<'_>, id: u64, tag: &str) -> PyResult<bool> {
        self.server.tag(id_of(id), tag).py(py)
    }

    fn untag(&self, py: Python<'_>, id: u64, tag: &str) -> PyResult<bool> {
        self.server.untag(id_of(id), tag).py(py)
    }

    fn tags(&self, py: Python<'_>, id: u64) -> PyResult<Vec<String>> {
        self.server.tags(id_of(id)).py(py)
    }

    fn buffered_amount(&self, py: Python<'_>, id: u64) -> PyResult<u64> {
        self.server.buffered_amount(id_of(id)).py(py)
    }

    fn is_live(&self, id: u64) -> bool {
        self.server.is_live(id_of(id))
    }

    fn send_by_tag(&self, py: Python<'_>, tag: &str, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        with_message(data, |m| self.server.send_by_tag(tag, m))?.py(py)
    }

    fn broadcast(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        with_message(data, |m| self.server.broadcast(m))?.py(py)
    }

    #[pyo3(signature = (tag, code=1000, reason=""))]
    fn close_by_tag(&self, py: Python<'_>, tag: &str, code: u16, reason: &str) -> PyResult<usize> {
        self.server.close_by_tag(tag, code, reason).py(py)
    }

    fn count_by_tag(&self, tag: &str) -> usize {
        self.server.count_by_tag(tag)
    }

    /// `{"total": {...}, "loops": [{...}, ...], "dedicated_compression": n}` with the
    /// core's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.server.stats();
        let one = |l: &websock::LoopStats| -> PyResult<Bound<'py, PyDict>> {
            let d = PyDict::new(py);
            d.set_item("connections", l.connections)?;
            d.set_item("accepted", l.accepted)?;
            d.set_item("opened", l.opened)?;
            d.set_item("rejected", l.rejected)?;
            d.set_item("messages_in", l.messages_in)?;
            d.set_item("messages_out", l.messages_out)?;
            d.set_item("bytes_in", l.bytes_in)?;
            d.set_item("bytes_out", l.bytes_out)?;
            d.set_item("dropped", l.dropped)?;
            d.set_item("protocol_errors", l.protocol_errors)?;
            d.set_item("compression_bytes", l.compression_bytes)?;
            Ok(d)
        };
        let out = PyDict::new(py);
        out.set_item("dedicated_compression", s.dedicated_compression)?;
        out.set_item("total", one(&s.total)?)?;
        out.set_item("loops", s.loops.iter().map(one).collect::<PyResult<Vec<_>>>()?)?;
        Ok(out)
    }

    #[pyo3(signature = (id, subprotocol=None, headers=Vec::new()))]
    fn accept_upgrade(&self, py: Python<'_>, id: u64, subprotocol: Option<String>, headers: Vec<(String, String)>) -> PyResult<()> {
        let accept = Accept { subprotocol, headers, user_data: None };
        self.server.accept_upgrade(id_of(id), accept).py(py)
    }

    #[pyo3(signature = (id, status=403, body=Vec::new(), headers=Vec::new()))]
    fn reject_upgrade(&self, py: Python<'_>, id: u64, status: u16, body: Vec<u8>, headers: Vec<(String, String)>) -> PyResult<()> {
        if !(400..=599).contains(&status) {
            return Err(PyValueError::new_err("a rejected upgrade answers with a 4xx or 5xx status"));
        }
        let mut r = HttpResponse::new(status, body);
        r.headers = headers;
        self.server.reject_upgrade(id_of(id), r).py(py)
    }

    /// Starts a graceful shutdown (close 1001, drain, force at `deadline` seconds) and
    /// returns at once; the queue ends with a shutdown event.
    #[pyo3(signature = (deadline=5.0))]
    fn begin_shutdown(&self, deadline: f64) -> PyResult<()> {
        self.server.begin_shutdown(secs(deadline, "deadline")?);
        Ok(())
    }

    /// Waits (GIL released) until every loop has ended; true if it did within `timeout`.
    #[pyo3(signature = (timeout=None))]
    fn wait_stopped(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        match timeout {
            None => {
                py.detach(|| self.server.wait());
                Ok(true)
            }
            Some(t) => {
                let t = secs(t, "timeout")?;
                Ok(py.detach(|| self.server.wait_timeout(t)))
            }
        }
    }

    #[getter]
    fn closing(&self) -> bool {
        self.server.is_closing()
    }

    /// True once the shutdown event has been queued (it may not be drained yet).
    #[getter]
    fn finished(&self) -> bool {
        self.queue.is_finished()
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }
}

impl Drop for NativeServer {
    /// A server nobody references any more stops listening (its loops would otherwise run
    /// on with nobody draining their events).
    fn drop(&mut self) {
        self.server.begin_shutdown(Duration::from_secs(1));
    }
}

#[pymodule]
fn _websock(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeServer>()?;
    m.add_class::<PyRequest>()?;
    m.add("EV_MESSAGE", EV_MESSAGE)?;
    m.add("EV_OPEN", EV_OPEN)?;
    m.add("EV_CLOSE", EV_CLOSE)?;
    m.add("EV_DRAIN", EV_DRAIN)?;
    m.add("EV_UPGRADE", EV_UPGRADE)?;
    m.add("EV_SHUTDOWN", EV_SHUTDOWN)?;
    Ok(())
}
