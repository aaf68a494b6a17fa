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
