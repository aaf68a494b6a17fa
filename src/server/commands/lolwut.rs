//! LOLWUT [VERSION v] [args]: Redis 7.0's computer art. Version 5 draws Georg Nees's
//! "Schotter" in Braille characters (`LOLWUT VERSION 5 [cols] [squares per row] [squares
//! per column]`, as lolwut5.c); every other version answers as 7.0's own (unstable) one,
//! the version line `Redis ver. 7.0.15`. Version 6's skyline is not drawn.

use super::flags::*;
use super::{CmdResult, Ctx, NO_KEYS, Spec, arg_i64, is, spec};
use bytes::Bytes;

/// The LOLWUT command.
pub fn specs() -> Vec<Spec> {
    vec![spec("lolwut", -1, READONLY | FAST, NO_KEYS, lolwut)]
}

fn lolwut(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let version_line = format!("Redis ver. {}", crate::server::REDIS_VERSION);
    let (major, rest) = if args.len() >= 3 && is(&args[1], "version") {
        // As Redis: the number as an unsigned int, then "<n>.0.0".
        let v = arg_i64(&args[2])?;
        ((v as u32).to_string(), &args[3..])
    } else {
        let v = crate::server::REDIS_VERSION;
        (v.split('.').next().unwrap_or("7").to_string(), &args[1..])
    };
    let text = if major == "5" {
        let mut params = [66i64, 8, 12];
        for (p, a) in params.iter_mut().zip(rest) {
            *p = arg_i64(a)?;
        }
        let cols = params[0].clamp(1, 1000) as usize;
        let per_row = params[1].clamp(1, 200) as usize;
        let per_col = params[2].clamp(1, 200) as usize;
        let canvas = schotter(ctx, cols, per_row, per_col);
        format!(
            "{}\nGeorg Nees - schotter, plotter on paper, 1968. {version_line}\n",
            canvas.render()
        )
    } else {
        format!("{version_line}\n")
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// A grid of dots.
struct Canvas {
    width: usize,
    height: usize,
    dots: Vec<bool>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.dots[y as usize * self.width + x as usize] = true;
        }
    }

    fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }

    /// Bresenham's line.
    fn line(&mut self, (mut x1, mut y1): (i64, i64), (x2, y2): (i64, i64)) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square centred on (x, y), rotated by `angle`.
    fn square(&mut self, x: i64, y: i64, size: f32, angle: f32) {
        let size = (size / std::f32::consts::SQRT_2).round();
        let mut k = std::f32::consts::FRAC_PI_4 + angle;
        let mut corners = [(0i64, 0i64); 4];
        for c in &mut corners {
            *c = (
                (k.sin() * size + x as f32).round() as i64,
                (k.cos() * size + y as f32).round() as i64,
            );
            k += std::f32::consts::FRAC_PI_2;
        }
        for j in 0..4 {
            self.line(corners[j], corners[(j + 1) % 4]);
        }
    }

    /// Braille characters, 2x4 dots each, rows separated by newlines.
    fn render(&self) -> String {
        let mut out = String::new();
        for y in (0..self.height).step_by(4) {
            for x in (0..self.width).step_by(2) {
                let bits = [
                    (x, y),
                    (x, y + 1),
                    (x, y + 2),
                    (x + 1, y),
                    (x + 1, y + 1),
                    (x + 1, y + 2),
                    (x, y + 3),
                    (x + 1, y + 3),
                ];
                let byte = bits
                    .iter()
                    .enumerate()
                    .filter(|(_, (px, py))| self.get(*px, *py))
                    .fold(0u32, |b, (i, _)| b | 1 << i);
                out.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
            }
            if y != self.height.saturating_sub(1) {
                out.push('\n');
            }
        }
        out
    }
}

/// The most dots a canvas may have (a client chooses the dimensions).
const MAX_DOTS: usize = 4 << 20;

/// lwDrawSchotter: rows of squares, more and more displaced and rotated going down.
fn schotter(ctx: &mut Ctx, cols: usize, per_row: usize, per_col: usize) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    // Redis allocates the whole canvas (up to 2,000 x ~400,000 dots for `LOLWUT VERSION 5
    // 1000 1 200`): bounded here to MAX_DOTS, cutting the bottom rows.
    let height = ((side * per_col as f32) as usize + padding * 2).min(MAX_DOTS / width);
    let mut canvas = Canvas {
        width,
        height,
        dots: vec![false; width * height],
    };
    let mut random = || (ctx.state.next_random() >> 11) as f32 / (1u64 << 53) as f32;
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0) as i64 + padding as i64;
            let mut sy = (y as f32 * side + side / 2.0) as i64 + padding as i64;
            let mut angle = 0.0;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in &mut r {
                    *v = random() / per_col as f32 * y as f32;
                }
                for v in &mut r {
                    if random() < 0.5 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx += (r[1] * side / 3.0) as i64;
                sy += (r[2] * side / 3.0) as i64;
            }
            canvas.square(sx, sy, side, angle);
        }
    }
    canvas
}
