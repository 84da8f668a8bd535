//! The card photo: 1024 bytes of proprietary WLT data that only the reader vendor's licensed
//! library can turn into the 102×126 24-bit BMP (38,862 bytes). HallKit loads that library at
//! run time from a configured path and symbol; without it, photos are "decoder unavailable" —
//! the read itself still succeeds, and face verification says it cannot run.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const WLT_LEN: usize = 1024;
pub const BMP_WIDTH: u32 = 102;
pub const BMP_HEIGHT: u32 = 126;
/// 54-byte header + 126 rows of 102 × 3 bytes padded to 308.
pub const BMP_LEN: usize = 54 + 308 * 126;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("photo decoder unavailable: {0}")]
    Unavailable(String),
    #[error("photo data is {0} bytes; a card photo is {WLT_LEN}")]
    BadInput(usize),
    #[error("the photo decoder failed (returned {0})")]
    DecoderFailed(i32),
    #[error("the photo decoder produced an invalid bitmap: {0}")]
    BadOutput(String),
}

/// A decoded card photo: a 24-bit BMP file in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct CardPhoto {
    bmp: Vec<u8>,
}

impl std::fmt::Debug for CardPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A face is personal data: never print pixels.
        write!(
            f,
            "CardPhoto({}×{} BMP, {} bytes)",
            BMP_WIDTH,
            BMP_HEIGHT,
            self.bmp.len()
        )
    }
}

impl CardPhoto {
    /// Overwrites the picture (a face is personal data).
    pub fn wipe(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bmp);
    }

    /// Validates a BMP produced by a decoder.
    pub fn from_bmp(bytes: &[u8]) -> Result<CardPhoto, PhotoError> {
        let bad = |m: &str| PhotoError::BadOutput(m.to_string());
        if bytes.len() < 54 || &bytes[..2] != b"BM" {
            return Err(bad("no BMP header"));
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let file_len = u32_at(2) as usize;
        let offset = u32_at(10) as usize;
        let width = u32_at(18);
        let height = (u32_at(22) as i32).unsigned_abs();
        let bpp = u16::from_le_bytes([bytes[28], bytes[29]]);
        if (width, height, bpp) != (BMP_WIDTH, BMP_HEIGHT, 24) {
            return Err(PhotoError::BadOutput(format!(
                "{width}×{height} at {bpp} bits, expected 102×126 at 24"
            )));
        }
        let row = (BMP_WIDTH as usize * 3).div_ceil(4) * 4;
        let need = offset + row * BMP_HEIGHT as usize;
        if file_len < need || bytes.len() < need {
            return Err(bad("pixel data is truncated"));
        }
        Ok(CardPhoto {
            bmp: bytes[..file_len.min(bytes.len())].to_vec(),
        })
    }

    pub fn bmp(&self) -> &[u8] {
        &self.bmp
    }

    /// RGB pixels, top row first.
    pub fn rgb(&self) -> Vec<u8> {
        let offset =
            u32::from_le_bytes([self.bmp[10], self.bmp[11], self.bmp[12], self.bmp[13]]) as usize;
        let bottom_up =
            (u32::from_le_bytes([self.bmp[22], self.bmp[23], self.bmp[24], self.bmp[25]]) as i32)
                > 0;
        let row = (BMP_WIDTH as usize * 3).div_ceil(4) * 4;
        let mut out = Vec::with_capacity((BMP_WIDTH * BMP_HEIGHT * 3) as usize);
        for y in 0..BMP_HEIGHT as usize {
            let src_y = if bottom_up {
                BMP_HEIGHT as usize - 1 - y
            } else {
                y
            };
            let r = &self.bmp[offset + src_y * row..offset + src_y * row + BMP_WIDTH as usize * 3];
            for px in r.chunks_exact(3) {
                out.extend_from_slice(&[px[2], px[1], px[0]]);
            }
        }
        out
    }

    /// Builds a BMP from top-down RGB pixels (for simulators and tests).
    pub fn from_rgb(rgb: &[u8]) -> Result<CardPhoto, PhotoError> {
        if rgb.len() != (BMP_WIDTH * BMP_HEIGHT * 3) as usize {
            return Err(PhotoError::BadOutput(format!(
                "{} bytes of RGB for a 102×126 photo",
                rgb.len()
            )));
        }
        let row = (BMP_WIDTH as usize * 3).div_ceil(4) * 4;
        let mut b = Vec::with_capacity(BMP_LEN);
        b.extend_from_slice(b"BM");
        b.extend_from_slice(&(BMP_LEN as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&54u32.to_le_bytes());
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&BMP_WIDTH.to_le_bytes());
        b.extend_from_slice(&(BMP_HEIGHT as i32).to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&24u16.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&((row * BMP_HEIGHT as usize) as u32).to_le_bytes());
        b.extend_from_slice(&[0; 16]);
        for y in (0..BMP_HEIGHT as usize).rev() {
            let src = &rgb[y * BMP_WIDTH as usize * 3..(y + 1) * BMP_WIDTH as usize * 3];
            for px in src.chunks_exact(3) {
                b.extend_from_slice(&[px[2], px[1], px[0]]);
            }
            b.extend(std::iter::repeat_n(0, row - BMP_WIDTH as usize * 3));
        }
        CardPhoto::from_bmp(&b)
    }
}

/// Turns WLT data into a photo.
pub trait PhotoDecoder: Send {
    fn decode(&self, wlt: &[u8]) -> Result<CardPhoto, PhotoError>;
    fn describe(&self) -> String;
}

/// No decoder configured or loadable: every decode says why.
pub struct NoDecoder {
    pub why: String,
}

impl PhotoDecoder for NoDecoder {
    fn decode(&self, _wlt: &[u8]) -> Result<CardPhoto, PhotoError> {
        Err(PhotoError::Unavailable(self.why.clone()))
    }
    fn describe(&self) -> String {
        format!("none ({})", self.why)
    }
}

type UnpackFn = unsafe extern "C" fn(*const u8, *mut u8, libc_int) -> libc_int;
#[allow(non_camel_case_types)]
type libc_int = std::os::raw::c_int;

/// The reader vendor's licensed library (libwlt2bmp.so and alikes), loaded at run time. The
/// usual entry point is `int unpack(char *wlt, char *bmp, int save_flag)` returning 1 on success.
pub struct VendorLibrary {
    path: PathBuf,
    symbol: String,
    ok_value: i32,
    // Keep the library loaded as long as the function pointer is used.
    _lib: libloading::Library,
    unpack: UnpackFn,
}

impl VendorLibrary {
    pub fn load(path: &Path, symbol: &str, ok_value: i32) -> Result<VendorLibrary, PhotoError> {
        if !path.is_file() {
            return Err(PhotoError::Unavailable(format!(
                "{} not found (the reader vendor's licensed WLT library)",
                path.display()
            )));
        }
        // SAFETY: loading a shared library runs its initialisers; the path is the operator's
        // configured vendor library, which is exactly what it is for.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| PhotoError::Unavailable(format!("{}: {e}", path.display())))?;
        // SAFETY: the symbol's type is the vendor's documented unpack signature.
        let unpack: UnpackFn = unsafe {
            *lib.get::<UnpackFn>(symbol.as_bytes()).map_err(|e| {
                PhotoError::Unavailable(format!("{}: no symbol {symbol:?}: {e}", path.display()))
            })?
        };
        Ok(VendorLibrary {
            path: path.to_path_buf(),
            symbol: symbol.to_string(),
            ok_value,
            _lib: lib,
            unpack,
        })
    }
}

impl PhotoDecoder for VendorLibrary {
    fn decode(&self, wlt: &[u8]) -> Result<CardPhoto, PhotoError> {
        if wlt.len() != WLT_LEN {
            return Err(PhotoError::BadInput(wlt.len()));
        }
        // Vendors write exactly one BMP; the generous buffer tolerates one that writes a little
        // more than it should.
        let input = wlt.to_vec();
        let mut out = vec![0u8; 64 * 1024];
        // SAFETY: input holds 1024 bytes and out 64 KiB, more than the 38,862 bytes the
        // library writes; save flag 0 asks it not to write files.
        let rc = unsafe { (self.unpack)(input.as_ptr(), out.as_mut_ptr(), 0) };
        if rc != self.ok_value {
            return Err(PhotoError::DecoderFailed(rc));
        }
        CardPhoto::from_bmp(&out)
    }
    fn describe(&self) -> String {
        format!("{}:{}", self.path.display(), self.symbol)
    }
}

/// Photos looked up by the WLT data's SHA-256 in a directory of `<sha256>.bmp` files: how the
/// simulator hands real photos to the sim profile without the vendor library.
pub struct FixtureDecoder {
    pub dir: PathBuf,
}

impl FixtureDecoder {
    pub fn file_for(dir: &Path, wlt: &[u8]) -> PathBuf {
        dir.join(format!("{}.bmp", hex::encode(Sha256::digest(wlt))))
    }
}

impl PhotoDecoder for FixtureDecoder {
    fn decode(&self, wlt: &[u8]) -> Result<CardPhoto, PhotoError> {
        if wlt.len() != WLT_LEN {
            return Err(PhotoError::BadInput(wlt.len()));
        }
        let path = Self::file_for(&self.dir, wlt);
        let bytes = std::fs::read(&path).map_err(|e| {
            PhotoError::Unavailable(format!("no fixture photo {}: {e}", path.display()))
        })?;
        CardPhoto::from_bmp(&bytes)
    }
    fn describe(&self) -> String {
        format!("fixtures in {}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> Vec<u8> {
        (0..BMP_WIDTH * BMP_HEIGHT)
            .flat_map(|i| [(i % 251) as u8, (i / 102) as u8, 128])
            .collect()
    }

    #[test]
    fn bmp_round_trip_and_validation() {
        let rgb = gradient();
        let p = CardPhoto::from_rgb(&rgb).unwrap();
        assert_eq!(p.bmp().len(), BMP_LEN);
        assert_eq!(p.bmp().len(), 38_862);
        assert_eq!(p.rgb(), rgb);
        assert!(format!("{p:?}").contains("38862 bytes"));
        assert!(CardPhoto::from_bmp(&p.bmp()[..1000]).is_err());
        let mut wrong = p.bmp().to_vec();
        wrong[18] = 100;
        assert!(matches!(
            CardPhoto::from_bmp(&wrong),
            Err(PhotoError::BadOutput(_))
        ));
    }

    #[test]
    fn missing_library_and_fixture_say_unavailable() {
        let e = VendorLibrary::load(Path::new("/nonexistent/libwlt2bmp.so"), "unpack", 1)
            .err()
            .unwrap();
        assert!(
            matches!(e, PhotoError::Unavailable(ref m) if m.contains("licensed")),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = FixtureDecoder {
            dir: dir.path().to_path_buf(),
        };
        assert!(matches!(
            d.decode(&[0u8; WLT_LEN]),
            Err(PhotoError::Unavailable(_))
        ));
        assert_eq!(d.decode(&[0u8; 10]), Err(PhotoError::BadInput(10)));
        let p = CardPhoto::from_rgb(&gradient()).unwrap();
        std::fs::write(
            FixtureDecoder::file_for(dir.path(), &[7u8; WLT_LEN]),
            p.bmp(),
        )
        .unwrap();
        assert_eq!(d.decode(&[7u8; WLT_LEN]).unwrap(), p);
    }

    /// A stand-in for the vendor library, compiled here, proves the run-time loading path:
    /// dlopen, symbol lookup, the call, and validation of what comes back.
    #[test]
    fn vendor_library_is_loaded_and_called_at_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("wlt.c");
        std::fs::write(
            &src,
            r#"
#include <string.h>
int unpack(const unsigned char *wlt, unsigned char *bmp, int save) {
    (void)save;
    if (wlt[0] == 0xFF) return -3;
    unsigned char h[54] = {'B','M', 0xCE,0x97,0,0, 0,0,0,0, 54,0,0,0, 40,0,0,0, 102,0,0,0, 126,0,0,0, 1,0, 24,0};
    memcpy(bmp, h, 54);
    for (int i = 0; i < 308 * 126; i++) bmp[54 + i] = wlt[i % 1024];
    return 1;
}
"#,
        )
        .unwrap();
        let lib = dir.path().join("libwlt-test.so");
        let status = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(&src)
            .status()
            .expect("a C compiler (build-essential) is installed by scripts/setup-debian.sh");
        assert!(status.success());
        let d = VendorLibrary::load(&lib, "unpack", 1).unwrap();
        let photo = d.decode(&[0x42u8; WLT_LEN]).unwrap();
        assert_eq!(photo.bmp().len(), BMP_LEN);
        assert_eq!(
            d.decode(&[0xFFu8; WLT_LEN]),
            Err(PhotoError::DecoderFailed(-3))
        );
        assert_eq!(d.decode(&[1u8; 5]), Err(PhotoError::BadInput(5)));
        let e = VendorLibrary::load(&lib, "Unpack_WLT", 1).err().unwrap();
        assert!(
            matches!(e, PhotoError::Unavailable(ref m) if m.contains("Unpack_WLT")),
            "{e}"
        );
    }
}
