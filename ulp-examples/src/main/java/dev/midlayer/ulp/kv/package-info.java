/**
 * The key-value template ULP: GETs are one-sided RDMA READs of the server's table, with no server CPU on reads
 * (as Pilaf and FaRM do); PUTs are SENDs the server applies and answers. A {@link dev.midlayer.ulp.kv.KvServer}
 * registers a table ({@link dev.midlayer.ulp.kv.KvLayout}) for remote READ on every device it is added to and
 * listens through the CM; a {@link dev.midlayer.ulp.kv.KvClient} connects from its devices, learns the table's
 * address, key and shape from the REP, and offers a {@link dev.midlayer.ulp.kv.KvStore}.
 *
 * <p>A READ is not atomic against the server's writes, so every slot carries a version at both ends (odd while
 * the server writes it) and a checksum of the key and value; a GET that finds a slot torn reads again. The server
 * takes a slot with a compare-and-set on its version, so PUTs of many connections can run at once.
 */
package dev.midlayer.ulp.kv;
