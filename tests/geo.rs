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
