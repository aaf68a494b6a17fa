//! Redis's geohash math (geohash.c, geohash_helper.c): coordinates to the 52-bit score
//! of a geo sorted set and back, the standard base-32 geohash string, and the haversine
//! distance with Redis's earth radius, computed the same way so that scores, positions
//! and distances agree to the last bit.

/// Redis's latitude limits (the Web Mercator square).
pub const LAT_MIN: f64 = -85.05112878;
/// See [`LAT_MIN`].
pub const LAT_MAX: f64 = 85.05112878;
/// Longitude limits.
pub const LONG_MIN: f64 = -180.0;
/// See [`LONG_MIN`].
pub const LONG_MAX: f64 = 180.0;
/// Bits per coordinate (52-bit scores).
const STEP: u32 = 26;
/// Redis's EARTH_RADIUS_IN_METERS.
const EARTH_RADIUS: f64 = 6372797.560856;

/// Spreads the 32 bits of `x` to the even bit positions of a u64.
fn spread(x: u32) -> u64 {
    let mut v = x as u64;
    v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    v = (v | (v << 2)) & 0x3333_3333_3333_3333;
    v = (v | (v << 1)) & 0x5555_5555_5555_5555;
    v
}

/// The even bits of `v`, packed.
fn squash(v: u64) -> u32 {
    let mut v = v & 0x5555_5555_5555_5555;
    v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
    v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF;
    v as u32
}

/// geohashEncode over the given ranges at STEP: latitude bits even, longitude bits odd.
fn encode(lon_range: (f64, f64), lat_range: (f64, f64), lon: f64, lat: f64) -> u64 {
    let lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * (1u64 << STEP) as f64;
    let lon_off = (lon - lon_range.0) / (lon_range.1 - lon_range.0) * (1u64 << STEP) as f64;
    spread(lat_off as u32) | (spread(lon_off as u32) << 1)
}

/// The score of a position (geohashEncodeWGS84 at step 26, aligned to 52 bits).
pub fn score(lon: f64, lat: f64) -> u64 {
    encode((LONG_MIN, LONG_MAX), (LAT_MIN, LAT_MAX), lon, lat)
}

/// Whether Redis accepts the pair (extractLongLatOrReply's limits).
pub fn valid(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// C's `(uint64_t)d` as gcc compiles it on x86-64, for scores that are not geohashes
/// (negative or huge ones written by ZADD): negative values wrap, out-of-range ones
/// become 2^63 (or 0 past 2^64).
fn c_u64(d: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    let cvt = |x: f64| -> u64 {
        if (-TWO63..TWO63).contains(&x) {
            x as i64 as u64
        } else {
            1u64 << 63
        }
    };
    if d >= TWO63 {
        cvt(d - TWO63) ^ (1u64 << 63)
    } else {
        cvt(d)
    }
}

/// The position a score stands for: the centre of its cell, clamped (decodeGeohash).
pub fn decode(score: f64) -> (f64, f64) {
    let bits = c_u64(score);
    let lat_i = squash(bits) as f64;
    let lon_i = squash(bits >> 1) as f64;
    let cells = (1u64 << STEP) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LONG_MAX - LONG_MIN;
    let lat_min = LAT_MIN + (lat_i * 1.0 / cells) * lat_scale;
    let lat_max = LAT_MIN + ((lat_i + 1.0) * 1.0 / cells) * lat_scale;
    let lon_min = LONG_MIN + (lon_i * 1.0 / cells) * lon_scale;
    let lon_max = LONG_MIN + ((lon_i + 1.0) * 1.0 / cells) * lon_scale;
    let lon = ((lon_min + lon_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((lat_min + lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash of a score (re-encoded over latitude -90..90).
pub fn geohash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode(score);
    let bits = encode((-180.0, 180.0), (-90.0, 90.0), lon, lat);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

fn rad(deg: f64) -> f64 {
    deg * (std::f64::consts::PI / 180.0)
}

/// geohashGetDistance: haversine in meters, with Redis's shortcut for equal longitudes.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (rad(lon1), rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return EARTH_RADIUS * (rad(lat2) - rad(lat1)).abs();
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// Redis's MERCATOR_MAX (half the Mercator square's side, in meters).
const MERCATOR_MAX: f64 = 20037726.37;

/// A geohash cell: `bits` at `step` bits per coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The interleaved bits.
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u32,
}

impl Cell {
    /// The score range `[min, max)` of the cell's points (scoresOfGeoHashBox).
    pub fn scores(self) -> (f64, f64) {
        let shift = 52 - self.step * 2;
        (
            (self.bits << shift) as f64,
            ((self.bits + 1) << shift) as f64,
        )
    }
}

/// geohashEncode at `step` over Redis's ranges.
fn encode_step(lon: f64, lat: f64, step: u32) -> Cell {
    let cells = (1u64 << step) as f64;
    let lat_off = (lat - LAT_MIN) / (LAT_MAX - LAT_MIN) * cells;
    let lon_off = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * cells;
    Cell {
        bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1),
        step,
    }
}

/// A cell's bounds: (lon min, lon max, lat min, lat max) (geohashDecode).
fn cell_area(c: Cell) -> (f64, f64, f64, f64) {
    let cells = (1u64 << c.step) as f64;
    let lat_i = squash(c.bits) as f64;
    let lon_i = squash(c.bits >> 1) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LONG_MAX - LONG_MIN;
    (
        LONG_MIN + (lon_i * 1.0 / cells) * lon_scale,
        LONG_MIN + ((lon_i + 1.0) * 1.0 / cells) * lon_scale,
        LAT_MIN + (lat_i * 1.0 / cells) * lat_scale,
        LAT_MIN + ((lat_i + 1.0) * 1.0 / cells) * lat_scale,
    )
}

/// geohash_move_x / geohash_move_y: the neighbouring cell `dx` east, `dy` north.
fn moved(c: Cell, dx: i8, dy: i8) -> Cell {
    let shift = 64 - c.step * 2;
    let mut bits = c.bits;
    let step_along = |bits: u64, d: i8, mine: u64, other: u64| -> u64 {
        if d == 0 {
            return bits;
        }
        let mut x = bits & mine;
        let y = bits & other;
        let zz = other >> shift;
        if d > 0 {
            x = x.wrapping_add(zz + 1);
        } else {
            x |= zz;
            x = x.wrapping_sub(zz + 1);
        }
        x &= mine >> shift;
        x | y
    };
    const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    const EVEN: u64 = 0x5555_5555_5555_5555;
    bits = step_along(bits, dx, ODD, EVEN);
    bits = step_along(bits, dy, EVEN, ODD);
    Cell { bits, step: c.step }
}

/// geohashEstimateStepsByRadius.
fn steps_for(radius_m: f64, lat: f64) -> u32 {
    if radius_m == 0.0 {
        return 26;
    }
    let mut r = radius_m;
    let mut step: i32 = 1;
    while r < MERCATOR_MAX {
        r *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u32
}

fn deg(rad: f64) -> f64 {
    rad / (std::f64::consts::PI / 180.0)
}

/// The cells to scan for a search around (`lon`, `lat`) reaching `half_w` and `half_h`
/// meters east/west and north/south, and `radius_m` from the centre at most
/// (geohashCalculateAreasByShapeWGS84), in Redis's order: the centre, N, S, E, W, NE,
/// NW, SE, SW; None for the ones Redis leaves out.
pub fn search_cells(
    lon: f64,
    lat: f64,
    half_w: f64,
    half_h: f64,
    radius_m: f64,
) -> [Option<Cell>; 9] {
    let lat_delta = deg(half_h / EARTH_RADIUS);
    let lon_delta_top = deg(half_w / EARTH_RADIUS / rad(lat + lat_delta).cos());
    let lon_delta_bottom = deg(half_w / EARTH_RADIUS / rad(lat - lat_delta).cos());
    let south = lat < 0.0;
    let min_lon = if south {
        lon - lon_delta_bottom
    } else {
        lon - lon_delta_top
    };
    let max_lon = if south {
        lon + lon_delta_bottom
    } else {
        lon + lon_delta_top
    };
    let min_lat = lat - lat_delta;
    let max_lat = lat + lat_delta;

    let mut steps = steps_for(radius_m, lat);
    let mut centre = encode_step(lon, lat, steps);
    let n = cell_area(moved(centre, 0, 1));
    let s = cell_area(moved(centre, 0, -1));
    let e = cell_area(moved(centre, 1, 0));
    let w = cell_area(moved(centre, -1, 0));
    let decrease = n.3 < max_lat || s.2 > min_lat || e.1 < max_lon || w.0 > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        centre = encode_step(lon, lat, steps);
    }
    let area = cell_area(centre);
    // Order: centre, N, S, E, W, NE, NW, SE, SW.
    let moves: [(i8, i8); 9] = [
        (0, 0),
        (0, 1),
        (0, -1),
        (1, 0),
        (-1, 0),
        (1, 1),
        (-1, 1),
        (1, -1),
        (-1, -1),
    ];
    let mut out = [None; 9];
    for (i, &(dx, dy)) in moves.iter().enumerate() {
        let useless = steps >= 2
            && ((dy < 0 && area.2 < min_lat)
                || (dy > 0 && area.3 > max_lat)
                || (dx < 0 && area.0 < min_lon)
                || (dx > 0 && area.1 > max_lon));
        if !useless {
            out[i] = Some(moved(centre, dx, dy));
        }
    }
    out
}

/// The latitude-only distance (geohashGetLatDistance).
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (rad(lat2) - rad(lat1)).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for x in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(x)), x);
        }
    }

    #[test]
    fn palermo_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores score 3479099956230698.
        assert_eq!(score(13.361389, 38.115556), 3479099956230698);
        assert_eq!(&geohash_string(3479099956230698.0), b"sqc8b49rny0");
    }
}
