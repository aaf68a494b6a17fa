//! Geo commands side by side with redis-server 7.0: GEOADD (NX/XX/CH, errors), GEOPOS,
//! GEODIST (units), GEOHASH; equal replies, scores and DEBUG DIGEST.

mod common;

use common::pair::Pair;

#[test]
fn geoadd_geopos_geodist_geohash_like_redis() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "zrange Sicily 0 -1 withscores",
        "geopos Sicily Palermo Catania NonExisting",
        "geodist Sicily Palermo Catania",
        "geodist Sicily Palermo Catania km",
        "geodist Sicily Palermo Catania MI",
        "geodist Sicily Palermo Catania ft",
        "geodist Sicily Palermo Catania m",
        "geodist Sicily Palermo Catania parsec",
        "geodist Sicily Palermo Catania km extra",
        "geodist Sicily Palermo Nowhere",
        "geodist nokey a b",
        "geodist Sicily Palermo Palermo",
        "geohash Sicily Palermo Catania Nowhere",
        "geohash nokey a b",
        "geopos nokey a b",
        "geoadd Sicily nx 13.5 38.2 Palermo 14 37 Agrigento",
        "geopos Sicily Palermo Agrigento",
        "geoadd Sicily xx 13.5 38.2 Palermo 14 37 Enna",
        "geopos Sicily Palermo Enna",
        "geoadd Sicily xx ch 13.6 38.3 Palermo",
        "geoadd Sicily ch 13.6 38.3 Palermo 1 1 One",
        "geoadd Sicily nx xx 1 1 x",
        "geoadd Sicily 1 1",
        "geoadd Sicily 1 1 a 2",
        "geoadd Sicily 181 1 bad",
        "geoadd Sicily -180.0000001 1 bad",
        "geoadd Sicily 1 85.06 bad",
        "geoadd Sicily 1 -85.05112879 bad",
        "geoadd Sicily x 1 bad",
        "geoadd Sicily 1 y bad",
        "geoadd Sicily 1 nan bad",
        "geoadd Sicily 180 85.05112878 corner1 -180 -85.05112878 corner2 0 0 origin",
        "geopos Sicily corner1 corner2 origin",
        "geohash Sicily corner1 corner2 origin",
        "geodist Sicily corner1 corner2",
        "geodist Sicily origin One km",
        "zscore Sicily corner1",
        "geoadd newkey xx 1 1 a",
        "exists newkey",
        "set str x",
        "geoadd str 1 1 a",
        "geopos str a",
        "geodist str a b",
        "geohash str a",
        "object encoding Sicily",
        "zadd Sicily -5 negative 9007199254740992 huge",
        "geopos Sicily negative",
        "geohash Sicily negative",
    ]);
    for i in 0..200 {
        let lon = -179.0 + (i as f64) * 1.789;
        let lat = -84.0 + (i as f64) * 0.8391;
        p.cmp(&[
            "geoadd",
            "world",
            &lon.to_string(),
            &lat.to_string(),
            &format!("p{i}"),
        ]);
    }
    p.cmp(&["object", "encoding", "world"]);
    p.cmp(&["zrange", "world", "0", "-1", "withscores"]);
    for i in (0..200).step_by(13) {
        let m = format!("p{i}");
        p.cmp(&["geopos", "world", &m]);
        p.cmp(&["geohash", "world", &m]);
        p.cmp(&["geodist", "world", &m, "p7", "km"]);
        p.cmp(&["geodist", "world", &m, "p199"]);
    }
    p.digest();
}

#[test]
fn geoadd_reaches_replicas_as_zadd() {
    let master = common::Server::start(&[]);
    let replica = common::Server::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let mut m = master.conn();
    let mut r = replica.conn();
    common::q(
        &mut m,
        &["geoadd", "g", "13.361389", "38.115556", "Palermo"],
    );
    common::q(
        &mut m,
        &[
            "geoadd",
            "g",
            "xx",
            "ch",
            "15.087269",
            "37.502669",
            "Palermo",
        ],
    );
    common::q(&mut m, &["set", "done", "1"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while common::q(&mut r, &["get", "done"]) != redis::Value::BulkString(b"1".to_vec()) {
        assert!(
            std::time::Instant::now() < deadline,
            "replica never caught up"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        common::q(&mut r, &["zscore", "g", "Palermo"]),
        common::q(&mut m, &["zscore", "g", "Palermo"])
    );
    assert_eq!(
        common::q(&mut r, &["geopos", "g", "Palermo"]),
        common::q(&mut m, &["geopos", "g", "Palermo"])
    );
}

#[test]
fn geo_searches_like_redis() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2",
        "georadius Sicily 15 37 200 km",
        "georadius Sicily 15 37 200 km WITHDIST",
        "georadius Sicily 15 37 200 km WITHCOORD WITHDIST WITHHASH",
        "georadius Sicily 15 37 200 km ASC",
        "georadius Sicily 15 37 200 km DESC WITHDIST",
        "georadius Sicily 15 37 200 km COUNT 1",
        "georadius Sicily 15 37 200 km COUNT 1 DESC",
        "georadius Sicily 15 37 200 km COUNT 1 ANY",
        "georadius Sicily 15 37 200 km ANY",
        "georadius Sicily 15 37 200 km COUNT 0",
        "georadius Sicily 15 37 200 km COUNT -1",
        "georadius Sicily 15 37 200 km COUNT x",
        "georadius Sicily 15 37 -1 km",
        "georadius Sicily 15 37 x km",
        "georadius Sicily 15 37 200 parsec",
        "georadius Sicily 200 37 200 km",
        "georadius Sicily 15 37 200 km foo",
        "georadius Sicily 15 37 0 km",
        "georadius Sicily 15 37 20000 km",
        "georadius Sicily 15 37 200 km STORE dst",
        "zrange dst 0 -1 withscores",
        "georadius Sicily 15 37 200 km STOREDIST dst2 COUNT 2",
        "zrange dst2 0 -1 withscores",
        "georadius Sicily 15 37 200 km STORE dst WITHDIST",
        "georadius Sicily 0 0 1 km STORE dst",
        "exists dst",
        "georadius_ro Sicily 15 37 200 km WITHDIST",
        "georadius_ro Sicily 15 37 200 km STORE dst",
        "georadiusbymember Sicily Palermo 200 km WITHDIST",
        "georadiusbymember Sicily Palermo 100 km WITHDIST ASC",
        "georadiusbymember Sicily Nowhere 100 km",
        "georadiusbymember nokey Nowhere 100 km",
        "georadiusbymember nokey Nowhere 100 km STORE dst3",
        "georadiusbymember_ro Sicily Catania 300 mi WITHCOORD",
        "geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC",
        "geosearch Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST",
        "geosearch Sicily FROMMEMBER Palermo BYBOX 400 400 km",
        "geosearch Sicily FROMMEMBER Palermo BYRADIUS 100 mi DESC COUNT 2 WITHHASH",
        "geosearch Sicily FROMMEMBER Nowhere BYRADIUS 100 mi",
        "geosearch Sicily FROMLONLAT 15 37",
        "geosearch Sicily BYRADIUS 10 km",
        "geosearch Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 10 km",
        "geosearch Sicily FROMLONLAT 15 37 BYRADIUS 10 km BYBOX 1 1 km",
        "geosearch Sicily FROMLONLAT 15 37 BYBOX -1 1 km",
        "geosearch Sicily FROMLONLAT 15 37 BYBOX x 1 km",
        "geosearch Sicily FROMLONLAT 15 37 BYBOX 1 y km",
        "geosearch Sicily FROMLONLAT 15 37 BYRADIUS 10 km STORE x",
        "geosearch Sicily FROMLONLAT 15 37 BYRADIUS 10 km STOREDIST",
        "geosearch nokey FROMLONLAT 15 37 BYRADIUS 10 km",
        "geosearch nokey FROMMEMBER x BYRADIUS 10 km",
        "geosearchstore dst4 Sicily FROMLONLAT 15 37 BYBOX 400 400 km",
        "zrange dst4 0 -1 withscores",
        "geosearchstore dst5 Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST COUNT 3 DESC",
        "zrange dst5 0 -1 withscores",
        "geosearchstore dst5 Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST",
        "geosearchstore dst5 nokey FROMLONLAT 15 37 BYRADIUS 200 km",
        "exists dst5",
        "set str x",
        "geosearch str FROMLONLAT 15 37 BYRADIUS 200 km",
        "georadius str 15 37 200 km",
    ]);
    // A grid over the globe: searches of every size, near the poles and the antimeridian.
    for i in 0..40 {
        for j in 0..20 {
            let lon = -179.5 + i as f64 * 8.97;
            let lat = -84.9 + j as f64 * 8.93;
            p.cmp(&[
                "geoadd",
                "grid",
                &lon.to_string(),
                &lat.to_string(),
                &format!("g{i}_{j}"),
            ]);
        }
    }
    for (lon, lat) in [
        ("0", "0"),
        ("179.9", "80"),
        ("-179.9", "-84"),
        ("13", "45"),
        ("90", "-70"),
    ] {
        for r in ["1", "100", "1000", "5000", "20000"] {
            p.cmp(&["georadius", "grid", lon, lat, r, "km"]);
            p.cmp(&["georadius", "grid", lon, lat, r, "km", "WITHDIST", "ASC"]);
            p.cmp(&[
                "geosearch",
                "grid",
                "FROMLONLAT",
                lon,
                lat,
                "BYBOX",
                r,
                r,
                "km",
            ]);
            p.cmp(&[
                "geosearch",
                "grid",
                "FROMLONLAT",
                lon,
                lat,
                "BYBOX",
                r,
                "300",
                "km",
                "DESC",
                "COUNT",
                "5",
                "WITHCOORD",
            ]);
            p.cmp(&[
                "geosearch",
                "grid",
                "FROMLONLAT",
                lon,
                lat,
                "BYRADIUS",
                r,
                "km",
                "COUNT",
                "3",
                "ANY",
            ]);
        }
    }
    p.digest();
}
