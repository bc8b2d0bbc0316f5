//! QR codes as inline SVG (for the authenticator app's `otpauth://` link): qrcodegen encodes,
//! this draws its modules as one path.

use qrcodegen::{QrCode, QrCodeEcc};

/// The SVG of `text` as a QR code (medium error correction, a 4-module quiet zone), or `None`
/// when it is too long for one.
pub fn svg(text: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + 2 * border;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" role=\"img\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_otpauth_link_fits_and_draws_modules() {
        let svg = super::svg("otpauth://totp/Acme:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme").unwrap();
        assert!(svg.starts_with("<svg") && svg.matches('M').count() > 100);
        assert!(super::svg(&"x".repeat(5000)).is_none());
    }
}
