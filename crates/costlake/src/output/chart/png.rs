//! A chart scene rasterised and encoded as PNG: shapes stamped into an RGB buffer, letters
//! from the 8×8 bitmap font, the file written by the `png` crate.

use super::super::OutputError;
use super::scene::{Anchor, Rgb, Scene, Shape};

impl Scene {
    /// The scene rasterised and encoded as a PNG file.
    pub fn to_png(&self) -> Result<Vec<u8>, OutputError> {
        let mut raster = Raster::new(self.width as usize, self.height as usize);
        for shape in &self.shapes {
            match shape {
                Shape::Rect {
                    x, y, w, h, color, ..
                } => raster.fill(*x, *y, *w, *h, *color),
                Shape::Line {
                    points,
                    width,
                    color,
                    ..
                } => {
                    for pair in points.windows(2) {
                        raster.segment(pair[0], pair[1], *width, *color);
                    }
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    scale,
                    anchor,
                    color,
                } => raster.text(*x, *y, text, *scale, *anchor, *color),
            }
        }
        raster.encode()
    }
}

/// An RGB pixel buffer.
struct Raster {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Raster {
    fn new(width: usize, height: usize) -> Raster {
        Raster {
            width,
            height,
            pixels: vec![255; width * height * 3],
        }
    }

    fn put(&mut self, x: i64, y: i64, color: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&color);
        }
    }

    fn fill(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        let (x0, y0) = (x.round() as i64, y.round() as i64);
        let (x1, y1) = ((x + w).round() as i64, (y + h).round() as i64);
        for py in y0..y1.max(y0 + 1) {
            for px in x0..x1.max(x0 + 1) {
                self.put(px, py, color);
            }
        }
    }

    /// A straight segment `width` pixels thick: squares stamped along it.
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), width: f64, color: Rgb) {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        let half = (width / 2.0).floor();
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            self.fill(x - half, y - half, width.max(1.0), width.max(1.0), color);
        }
    }

    fn text(&mut self, x: f64, y: f64, text: &str, scale: u32, anchor: Anchor, color: Rgb) {
        use font8x8::UnicodeFonts;
        let size = 8 * scale as i64;
        let advance = size;
        let width = advance * text.chars().count() as i64;
        let left = match anchor {
            Anchor::Start => x.round() as i64,
            Anchor::Middle => x.round() as i64 - width / 2,
            Anchor::End => x.round() as i64 - width,
        };
        let top = y.round() as i64 - size / 2;
        for (n, ch) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::LATIN_FONTS.get(ch))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for dy in 0..scale as i64 {
                            for dx in 0..scale as i64 {
                                self.put(
                                    left + n as i64 * advance + col * scale as i64 + dx,
                                    top + row as i64 * scale as i64 + dy,
                                    color,
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// The buffer as a PNG file: 8-bit RGB, encoded by the `png` crate.
    fn encode(&self) -> Result<Vec<u8>, OutputError> {
        let failed = |e: png::EncodingError| OutputError::Chart(format!("cannot encode PNG: {e}"));
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // A chart is small: the smallest file is worth the milliseconds.
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(failed)?;
        writer.write_image_data(&self.pixels).map_err(failed)?;
        writer.finish().map_err(failed)?;
        Ok(out)
    }
}
