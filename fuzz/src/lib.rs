//! Helpers shared by admit's fuzz targets.
//!
//! Inputs with several text fields separate them with the byte `0xFF`, which never occurs
//! in UTF-8, so seed files can be written by hand (`printf 'name\xffnew@x.fr'`). Each field
//! is decoded lossily (invalid UTF-8 becomes U+FFFD), so every input reaches the code.

/// The field separator in multi-field inputs.
pub const SEPARATOR: u8 = 0xFF;

/// Splits `data` into exactly `n` text fields at [`SEPARATOR`]: missing fields are empty,
/// extra separators stay in the last field (as U+FFFD).
pub fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> =
        data.splitn(n, |b| *b == SEPARATOR).map(|part| String::from_utf8_lossy(part).into_owned()).collect();
    out.resize(n, String::new());
    out
}
