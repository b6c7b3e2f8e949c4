//! Gives libwebsock.so a SONAME (libwebsock.so.<major>.<minor> while the major version is
//! 0), so installed programs bind to a compatible series rather than the bare .so name.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let soname = if major == "0" { format!("libwebsock.so.0.{minor}") } else { format!("libwebsock.so.{major}") };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
}
