// Links Debian's librime (librime-dev); the setup script installs it.
fn main() {
    println!("cargo:rustc-link-lib=rime");
}
