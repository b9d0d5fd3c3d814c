package dev.midlayer.internal.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.verbs.SendWr;

/**
 * Internal API. A send work request in a send queue ({@link SendWqe}): the consumer's immutable
 * {@link SendWr} plus what the post took from elsewhere (the inline payload, a REG_MR's staged page list,
 * a UD address handle's path). Immutable; any thread.
 */
public final class PostedSend implements SendWqe {
  private final SendWr wr;
  private final long length;
  private final byte[] inline;
  private final MrMapping staged;
  private final AhAttr path;

  PostedSend(SendWr wr, long length, byte[] inline, MrMapping staged, AhAttr path) {
    this.wr = wr;
    this.length = length;
    this.inline = inline;
    this.staged = staged;
    this.path = path;
  }

  /** The consumer's request. */
  public SendWr wr() {
    return wr;
  }

  /** The completion callback of the request, or null. */
  public Cqe cqe() {
    return wr.cqe();
  }

  /** REG_MR: the page list of its region when it was posted, or null. */
  public MrMapping staged() {
    return staged;
  }

  @Override
  public long wrId() {
    return wr.wrId();
  }

  @Override
  public WrOpcode opcode() {
    return wr.opcode();
  }

  @Override
  public int flags() {
    return wr.flags();
  }

  @Override
  public int sgeCount() {
    return wr.sgList().size();
  }

  @Override
  public long sgeAddr(int i) {
    return wr.sgList().get(i).addr();
  }

  @Override
  public int sgeLength(int i) {
    return wr.sgList().get(i).length();
  }

  @Override
  public int sgeLkey(int i) {
    return wr.sgList().get(i).lkey();
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public int immData() {
    return wr.immData();
  }

  @Override
  public long remoteAddr() {
    return wr.remoteAddr();
  }

  @Override
  public int rkey() {
    return wr.rkey();
  }

  @Override
  public long compareAdd() {
    return wr.compareAdd();
  }

  @Override
  public long swap() {
    return wr.swap();
  }

  @Override
  public int invalidateRkey() {
    return wr.invalidateRkey();
  }

  @Override
  public AhAttr ah() {
    return path;
  }

  @Override
  public int remoteQpn() {
    return wr.remoteQpn();
  }

  @Override
  public int remoteQkey() {
    return wr.remoteQkey();
  }

  @Override
  public byte[] inlineData() {
    return inline;
  }

  @Override
  public int regKey() {
    return wr.regKey();
  }

  @Override
  public int regAccess() {
    return wr.regAccess();
  }

  @Override
  public String toString() {
    return "posted " + wr;
  }
}
