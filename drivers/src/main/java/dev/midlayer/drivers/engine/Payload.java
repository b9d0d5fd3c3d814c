package dev.midlayer.drivers.engine;

import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.SendWqe;

/**
 * The data a {@link Packet} carries, by reference. Immutable; any thread may read it, the bytes behind a
 * {@link Wqe} only while the WR is outstanding (an RC WR stays outstanding until it is acknowledged). Every
 * method never blocks (keys resolve lock-free).
 */
public sealed interface Payload {
  /** Bytes carried. */
  long length();

  /**
   * The bytes of a posted WR, still in the requester's registered memory (its SGEs, checked against the
   * requester's keys and protection domain wherever they are read) or its inline data. An in-JVM link hands
   * this to the responder, which reads the requester's memory directly (zero copy), and for a READ or an
   * atomic writes the result straight into the requester's SGEs; a wire link copies the bytes into its frame.
   */
  record Wqe(SendWqe wr, QpContext owner) implements Payload {
    @Override
    public long length() {
      return wr.length();
    }

    /**
     * The bytes copied out as a wire link sends them (a NIC's DMA read at transmit time): {@link Bytes}, or
     * {@link Unreadable} if an SGE no longer resolves with the owner's keys and protection domain.
     */
    public Payload copy() {
      if (wr.inlineData() != null) {
        return new Bytes(wr.inlineData());
      }
      var maps = SgCopy.resolveAll(wr, owner.device().memory(), owner.pdHandle(), false);
      return maps == null ? new Unreadable(wr.length()) : new Bytes(SgCopy.gather(wr, maps, wr.length()));
    }
  }

  /**
   * A request whose bytes could not be read when a wire link sent it: the requester's SGEs no longer resolved
   * (the region was deregistered or invalidated after the post). The responder answers with
   * {@link Aeth#NAK_REQUESTER_PROTECTION}, and the requester's WR completes with LOC_PROT_ERR.
   */
  record Unreadable(long length) implements Payload {}

  /** Bytes that were copied already: an unreliable message's payload, or data that came off a wire. */
  record Bytes(byte[] data) implements Payload {
    @Override
    public long length() {
      return data.length;
    }
  }
}
