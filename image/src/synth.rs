//! Synthetic photographs of documents, for tests, benchmarks and the simulated document camera:
//! a rendered form photographed at an angle, rotated, in uneven light, on a textured desk. The
//! true page corners come with the photo, so page detection can be scored.

use opencv::core::{Mat, Point, Point2f, Scalar, Size, Vector, BORDER_REFLECT, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;

use crate::text::draw_text;
use crate::ImageError;

/// An A4 form as rendered (150 dpi: 1240 × 1754).
#[derive(Debug, Clone)]
pub struct SyntheticPage {
    pub width: i32,
    pub height: i32,
    pub title: String,
    pub lines: Vec<String>,
}

impl Default for SyntheticPage {
    fn default() -> Self {
        SyntheticPage {
            width: 1240,
            height: 1754,
            title: "居民身份证申领登记表".into(),
            lines: (1..=14)
                .map(|i| match i % 4 {
                    0 => format!("{i:02}. 申请人签名：张三    日期：2026年11月{i:02}日"),
                    1 => format!("{i:02}. 办理事项：户籍证明开具    窗口：A{i:02}"),
                    2 => format!("{i:02}. 联系电话：138****{:04}    材料份数：{i}", i * 37),
                    _ => format!("{i:02}. 备注：本表由申请人如实填写，经办人核对后签章。"),
                })
                .collect(),
        }
    }
}

/// How the page is photographed.
#[derive(Debug, Clone)]
pub struct Shot {
    /// Output frame size.
    pub frame: (i32, i32),
    /// In-plane rotation of the page, degrees (positive: clockwise on screen).
    pub rotate_deg: f32,
    /// Keystone: how much the far edge shrinks (0 = camera straight above).
    pub keystone: f32,
    /// Page height as a fraction of the frame height.
    pub fill: f32,
    /// 0..1: how dark a shadow falls across one side of the page.
    pub shadow: f32,
    /// Desk texture contrast.
    pub texture: f32,
    pub seed: u64,
}

impl Default for Shot {
    fn default() -> Self {
        Shot {
            frame: (1920, 1440),
            rotate_deg: 7.0,
            keystone: 0.06,
            fill: 0.82,
            shadow: 0.35,
            texture: 1.0,
            seed: 1,
        }
    }
}

pub struct Photo {
    pub image: Mat,
    /// Top-left, top-right, bottom-right, bottom-left corners of the page in the photo.
    pub corners: [Point2f; 4],
}

impl SyntheticPage {
    /// The flat page: white paper, a black header band (which way is up), text and boxes.
    pub fn render(&self) -> Result<Mat, ImageError> {
        let (w, h) = (self.width, self.height);
        let mut m = Mat::new_rows_cols_with_default(h, w, CV_8UC3, Scalar::all(250.0))?;
        let u = w as f32 / 1240.0;
        imgproc::rectangle_points(
            &mut m,
            Point::new((80.0 * u) as i32, (70.0 * u) as i32),
            Point::new(w - (80.0 * u) as i32, (150.0 * u) as i32),
            Scalar::all(20.0),
            -1,
            imgproc::LINE_8,
            0,
        )?;
        draw_text(
            &mut m,
            &self.title,
            110.0 * u,
            132.0 * u,
            56.0 * u,
            [250, 250, 250],
            1.0,
        )?;
        let mut y = 260.0 * u;
        for line in &self.lines {
            draw_text(&mut m, line, 100.0 * u, y, 36.0 * u, [25, 25, 25], 1.0)?;
            imgproc::line(
                &mut m,
                Point::new((100.0 * u) as i32, (y + 18.0 * u) as i32),
                Point::new(w - (100.0 * u) as i32, (y + 18.0 * u) as i32),
                Scalar::all(150.0),
                1,
                imgproc::LINE_8,
                0,
            )?;
            y += 95.0 * u;
        }
        // A seal-like circle at the bottom right, as forms carry.
        imgproc::circle(
            &mut m,
            Point::new(w - (260.0 * u) as i32, h - (230.0 * u) as i32),
            (110.0 * u) as i32,
            Scalar::new(40.0, 40.0, 200.0, 0.0),
            (8.0 * u) as i32,
            imgproc::LINE_AA,
            0,
        )?;
        Ok(m)
    }

    pub fn photograph(&self, shot: &Shot) -> Result<Photo, ImageError> {
        let page = self.render()?;
        let (fw, fh) = shot.frame;
        let mut rng = Lcg(shot.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // Desk: dark grey with blotches and fine grain, like a document camera's mat.
        let mut desk =
            Mat::new_rows_cols_with_default(fh, fw, CV_8UC3, Scalar::new(58.0, 62.0, 66.0, 0.0))?;
        for _ in 0..40 {
            let c = Point::new(
                (rng.next() * fw as f32) as i32,
                (rng.next() * fh as f32) as i32,
            );
            let r = (20.0 + rng.next() * fw as f32 * 0.08) as i32;
            let v = 40.0 + rng.next() as f64 * 50.0 * f64::from(shot.texture);
            imgproc::circle(
                &mut desk,
                c,
                r,
                Scalar::new(v, v + 3.0, v + 6.0, 0.0),
                -1,
                imgproc::LINE_AA,
                0,
            )?;
        }
        let mut grain = Mat::new_rows_cols_with_default(fh, fw, CV_8UC3, Scalar::all(0.0))?;
        opencv::core::randn(
            &mut grain,
            &Scalar::all(0.0),
            &Scalar::all(10.0 * f64::from(shot.texture)),
        )?;
        let mut blurred = Mat::default();
        imgproc::gaussian_blur(
            &desk,
            &mut blurred,
            Size::new(0, 0),
            6.0,
            6.0,
            BORDER_REFLECT,
        )?;
        let mut desk2 = Mat::default();
        opencv::core::add(&blurred, &grain, &mut desk2, &opencv::core::no_array(), -1)?;

        // Where the page lands: a portrait rectangle, keystoned, rotated about the frame centre.
        let ph = fh as f32 * shot.fill;
        let pw = ph * self.width as f32 / self.height as f32;
        let k = shot.keystone * pw;
        let local = [
            (-pw / 2.0 + k, -ph / 2.0),
            (pw / 2.0 - k, -ph / 2.0),
            (pw / 2.0, ph / 2.0),
            (-pw / 2.0, ph / 2.0),
        ];
        let a = shot.rotate_deg.to_radians();
        let (cx, cy) = (
            fw as f32 / 2.0 + (rng.next() - 0.5) * 30.0,
            fh as f32 / 2.0 + (rng.next() - 0.5) * 30.0,
        );
        let corners = local.map(|(x, y)| {
            Point2f::new(
                cx + x * a.cos() - y * a.sin(),
                cy + x * a.sin() + y * a.cos(),
            )
        });
        let src = Vector::<Point2f>::from_slice(&[
            Point2f::new(0.0, 0.0),
            Point2f::new(self.width as f32, 0.0),
            Point2f::new(self.width as f32, self.height as f32),
            Point2f::new(0.0, self.height as f32),
        ]);
        let dst = Vector::<Point2f>::from_slice(&corners);
        let h = imgproc::get_perspective_transform(&src, &dst, opencv::core::DECOMP_LU)?;
        let warp = |m: &Mat| -> Result<Mat, ImageError> {
            let mut out = Mat::default();
            imgproc::warp_perspective(
                m,
                &mut out,
                &h,
                Size::new(fw, fh),
                imgproc::INTER_LINEAR,
                opencv::core::BORDER_CONSTANT,
                Scalar::all(0.0),
            )?;
            Ok(out)
        };
        let warped = warp(&page)?;
        let mask = warp(&Mat::new_rows_cols_with_default(
            self.height,
            self.width,
            opencv::core::CV_8UC1,
            Scalar::all(255.0),
        )?)?;
        let mut photo = desk2.try_clone()?;
        warped.copy_to_masked(&mut photo, &mask)?;

        // Light falls off across the frame; a shadow (a hand, the camera arm) darkens one side.
        let mut light =
            Mat::new_rows_cols_with_default(fh, fw, opencv::core::CV_32FC3, Scalar::all(1.0))?;
        for y in 0..fh {
            for x in 0..fw {
                let t = x as f32 / fw as f32;
                let s = 1.0 - shot.shadow * (1.0 - t).powi(2) - 0.08 * (y as f32 / fh as f32);
                let px = light.at_2d_mut::<opencv::core::Vec3f>(y, x)?;
                *px = opencv::core::Vec3f::from([s, s, s]);
            }
        }
        let mut f = Mat::default();
        photo.convert_to(&mut f, opencv::core::CV_32FC3, 1.0, 0.0)?;
        let mut lit = Mat::default();
        opencv::core::multiply(&f, &light, &mut lit, 1.0, -1)?;
        let mut out = Mat::default();
        lit.convert_to(&mut out, CV_8UC3, 1.0, 0.0)?;
        // Lens softness.
        let mut soft = Mat::default();
        imgproc::gaussian_blur(&out, &mut soft, Size::new(3, 3), 0.0, 0.0, BORDER_REFLECT)?;
        Ok(Photo {
            image: soft,
            corners,
        })
    }
}

/// A small deterministic generator: tests must see the same photo every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}
