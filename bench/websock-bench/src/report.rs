//! Output: a small JSON value type (one object per run, machine-readable), a progress bar
//! on stderr for long phases, and hand-written SVG line charts.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// A JSON value; objects keep their key order.
#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn obj() -> Json {
        Json::Obj(Vec::new())
    }

    /// Adds a key (builder style).
    pub fn set(mut self, k: &str, v: impl Into<Json>) -> Json {
        if let Json::Obj(ref mut o) = self {
            o.push((k.to_string(), v.into()));
        }
        self
    }

    pub fn get(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(o) => o.iter().find(|(x, _)| x == k).map(|(_, v)| v),
            _ => None,
        }
    }

    fn write(&self, s: &mut String, indent: usize, pretty: bool) {
        let nl = |s: &mut String, n: usize| {
            if pretty {
                s.push('\n');
                s.extend(std::iter::repeat_n(' ', n * 2));
            }
        };
        match self {
            Json::Null => s.push_str("null"),
            Json::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(s, "{i}");
            }
            Json::Num(f) if !f.is_finite() => s.push_str("null"),
            Json::Num(f) => {
                // Rounded to 4 significant decimals: measurement noise is far larger.
                let v = if f.abs() >= 1000.0 { f.round() } else { (f * 1e4).round() / 1e4 };
                let _ = write!(s, "{v}");
            }
            Json::Str(t) => {
                s.push('"');
                for c in t.chars() {
                    match c {
                        '"' => s.push_str("\\\""),
                        '\\' => s.push_str("\\\\"),
                        '\n' => s.push_str("\\n"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(s, "\\u{:04x}", c as u32);
                        }
                        c => s.push(c),
                    }
                }
                s.push('"');
            }
            Json::Arr(a) => {
                s.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    nl(s, indent + 1);
                    v.write(s, indent + 1, pretty);
                }
                if !a.is_empty() {
                    nl(s, indent);
                }
                s.push(']');
            }
            Json::Obj(o) => {
                s.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    nl(s, indent + 1);
                    Json::Str(k.clone()).write(s, indent + 1, pretty);
                    s.push_str(if pretty { ": " } else { ":" });
                    v.write(s, indent + 1, pretty);
                }
                if !o.is_empty() {
                    nl(s, indent);
                }
                s.push('}');
            }
        }
    }

    pub fn pretty(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0, true);
        s
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}
impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::Num(v)
    }
}
macro_rules! int_json {
    ($($t:ty),*) => {$(impl From<$t> for Json { fn from(v: $t) -> Json { Json::Int(v as i128) } })*};
}
int_json!(u64, usize, i64, u32, i32, u16);
impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_string())
    }
}
impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Arr(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map(Into::into).unwrap_or(Json::Null)
    }
}

pub fn latency_json(l: &crate::stats::LatencySummary) -> Json {
    Json::obj()
        .set("count", l.count)
        .set("mean_us", l.mean)
        .set("p50_us", l.p50)
        .set("p90_us", l.p90)
        .set("p99_us", l.p99)
        .set("p999_us", l.p999)
        .set("max_us", l.max)
}

/// A progress bar on stderr. On a terminal it redraws in place (at most 10 times a
/// second); otherwise it prints only the finished line, so logs stay readable.
pub struct Progress {
    label: String,
    total: u64,
    start: Instant,
    last: Option<Instant>,
    tty: bool,
    quiet: bool,
}

impl Progress {
    pub fn new(label: &str, total: u64, quiet: bool) -> Progress {
        Progress { label: label.to_string(), total: total.max(1), start: Instant::now(), last: None, tty: std::io::stderr().is_terminal(), quiet }
    }

    pub fn set(&mut self, n: u64, extra: &str) {
        if self.quiet || !self.tty {
            return;
        }
        if self.last.is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        self.last = Some(Instant::now());
        self.draw(n, extra);
    }

    fn draw(&self, n: u64, extra: &str) {
        let width = 30;
        let filled = ((n.min(self.total) as f64 / self.total as f64) * width as f64) as usize;
        let bar: String = "#".repeat(filled) + &"-".repeat(width - filled);
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{:<22} [{bar}] {n}/{} {:>5.1}s {extra}", self.label, self.total, self.start.elapsed().as_secs_f64());
        let _ = e.flush();
    }

    pub fn finish(&mut self, n: u64, extra: &str) {
        if self.quiet {
            return;
        }
        self.draw(n, extra);
        eprintln!();
    }
}

/// One line on a chart.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
    /// Drawn against the right-hand axis.
    pub right: bool,
}

/// One chart panel.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub left_label: String,
    pub right_label: String,
    pub log_x: bool,
    pub series: Vec<Series>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_tick(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Renders panels stacked vertically into one SVG document.
pub fn svg(title: &str, panels: &[Panel]) -> String {
    let (w, ph) = (760.0, 300.0);
    let h = 40.0 + ph * panels.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" font-size="15" text-anchor="middle">{}</text>
"#,
        w / 2.0,
        esc(title)
    );
    for (k, p) in panels.iter().enumerate() {
        let oy = 40.0 + ph * k as f64;
        let (l, r, t, b) = (70.0, w - 70.0, oy + 30.0, oy + ph - 50.0);
        let pts = || p.series.iter().flat_map(|s| s.points.iter());
        let xs: Vec<f64> = pts().map(|p| p.0).collect();
        if xs.is_empty() {
            continue;
        }
        let fx = |x: f64| if p.log_x { x.max(1.0).log10() } else { x };
        let xmin = if p.log_x { xs.iter().cloned().fold(f64::MAX, f64::min).max(1.0).log10().floor() } else { 0.0 };
        let xmax = if p.log_x { xs.iter().cloned().fold(1.0, f64::max).log10().ceil().max(xmin + 1.0) } else { nice_max(xs.iter().cloned().fold(0.0, f64::max)) };
        let ymax = |right: bool| nice_max(p.series.iter().filter(|s| s.right == right).flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max));
        let (yl, yr) = (ymax(false), ymax(true));
        let px = |x: f64| l + (fx(x) - xmin) / (xmax - xmin) * (r - l);
        let py = |y: f64, right: bool| b - y / if right { yr } else { yl } * (b - t);
        let _ = writeln!(s, r#"<text x="{}" y="{}" font-size="13" text-anchor="middle">{}</text>"#, (l + r) / 2.0, oy + 18.0, esc(&p.title));
        let _ = writeln!(s, r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#888"/>"##, r - l, b - t);
        for i in 0..=4 {
            let f = i as f64 / 4.0;
            let y = b - f * (b - t);
            let _ = writeln!(s, r##"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{}</text>"##, l - 4.0, y + 4.0, fmt_tick(yl * f));
            if p.series.iter().any(|s| s.right) {
                let _ = writeln!(s, r#"<text x="{}" y="{}">{}</text>"#, r + 4.0, y + 4.0, fmt_tick(yr * f));
            }
        }
        // x ticks: decades on a log axis, quarters on a linear one.
        let ticks: Vec<f64> = if p.log_x { (xmin as i32..=xmax as i32).map(|e| 10f64.powi(e)).collect() } else { (0..=4).map(|i| xmax * i as f64 / 4.0).collect() };
        for x in ticks {
            let tx = px(x);
            let _ = writeln!(s, r#"<text x="{tx}" y="{}" text-anchor="middle">{}</text>"#, b + 14.0, fmt_tick(x));
        }
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, (l + r) / 2.0, b + 30.0, esc(&p.x_label));
        let _ = writeln!(s, r#"<text x="{}" y="{}" transform="rotate(-90 {} {})" text-anchor="middle">{}</text>"#, l - 48.0, (t + b) / 2.0, l - 48.0, (t + b) / 2.0, esc(&p.left_label));
        if !p.right_label.is_empty() {
            let _ = writeln!(s, r#"<text x="{}" y="{}" transform="rotate(90 {} {})" text-anchor="middle">{}</text>"#, r + 50.0, (t + b) / 2.0, r + 50.0, (t + b) / 2.0, esc(&p.right_label));
        }
        for (j, se) in p.series.iter().enumerate() {
            let path: Vec<String> = se.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y, se.right))).collect();
            let _ = writeln!(s, r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#, path.join(" "), se.color);
            for &(x, y) in &se.points {
                let _ = writeln!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#, px(x), py(y, se.right), se.color);
            }
            let ly = t + 14.0 + 14.0 * j as f64;
            let _ = writeln!(s, r#"<rect x="{}" y="{}" width="10" height="3" fill="{}"/><text x="{}" y="{}">{}</text>"#, l + 8.0, ly - 4.0, se.color, l + 22.0, ly, esc(&se.name));
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_orders() {
        let j = Json::obj().set("a", 1u64).set("b", "x\"y\n").set("c", vec![1.5f64, f64::NAN]).set("d", Option::<u64>::None);
        let s = j.pretty();
        assert!(s.find("\"a\"").unwrap() < s.find("\"b\"").unwrap());
        assert!(s.contains(r#""x\"y\n""#));
        assert!(s.contains("null"));
        assert!(s.contains("1.5"));
    }

    #[test]
    fn svg_has_one_polyline_per_series() {
        let p = Panel {
            title: "t".into(),
            x_label: "x".into(),
            left_label: "y".into(),
            right_label: "z".into(),
            log_x: true,
            series: vec![
                Series { name: "a".into(), color: "red", points: vec![(1.0, 2.0), (10.0, 5.0), (100.0, 6.0)], right: false },
                Series { name: "b".into(), color: "blue", points: vec![(1.0, 20.0), (100.0, 900.0)], right: true },
            ],
        };
        let s = svg("chart <1>", &[p]);
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(s.contains("chart &lt;1&gt;"));
        assert!(s.ends_with("</svg>\n"));
    }
}
