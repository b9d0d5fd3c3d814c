package dev.midlayer.ulp.kv;

import java.nio.ByteBuffer;

/**
 * The messages of the key-value protocol, big-endian. GETs need none: they are RDMA READs of the table.
 *
 * <pre>
 *   REQ private data (client)  window u32                           PUTs the client has in flight at most
 *   REP private data (server)  iova u64, rkey u32, slots u32, valueMax u32   where the table is, and its shape
 *   PUT (client SEND)          reqId u64, keyLen u16, valueLen u16, key, value
 *   PUT reply (server SEND)    reqId u64, status u32                 STORED, FULL (no free slot in the window)
 * </pre>
 */
final class KvProtocol {
  static final int PUT_HEADER = 12;
  static final int REPLY = 12;
  static final int STORED = 0;
  static final int FULL = 1;
  static final int BAD = 2;
  static final int REP_PRIVATE_DATA = 20;

  private KvProtocol() {}

  /** The largest PUT for {@code layout}. */
  static int putMax(KvLayout layout) {
    return PUT_HEADER + KvLayout.KEY_MAX + layout.valueMax();
  }

  static byte[] req(int window) {
    return ByteBuffer.allocate(4).putInt(window).array();
  }

  static byte[] rep(long iova, int rkey, KvLayout layout) {
    return ByteBuffer.allocate(REP_PRIVATE_DATA).putLong(iova).putInt(rkey).putInt(layout.slots())
        .putInt(layout.valueMax()).array();
  }

  /** Where the table is and its shape, from the REP's private data. */
  record Table(long iova, int rkey, KvLayout layout) {
    static Table of(byte[] rep) {
      if (rep == null || rep.length < REP_PRIVATE_DATA) {
        throw new KvException("the server's REP carries no table (" + (rep == null ? 0 : rep.length) + " bytes)");
      }
      ByteBuffer b = ByteBuffer.wrap(rep);
      return new Table(b.getLong(), b.getInt(), new KvLayout(b.getInt(), b.getInt()));
    }
  }
}
