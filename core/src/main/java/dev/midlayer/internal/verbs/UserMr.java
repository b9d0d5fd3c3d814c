package dev.midlayer.internal.verbs;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.MrType;
import dev.midlayer.verbs.Page;
import java.nio.ByteBuffer;

/** Internal API. A region registered over one buffer ({@code ib_reg_mr}): keys fixed until deregistered. */
public final class UserMr extends MrImpl implements MemoryRegion.User {
  private final ByteBuffer buffer;
  private final long iova;

  private UserMr(PdImpl pd, ByteBuffer buffer, long iova) {
    super(pd);
    this.buffer = buffer;
    this.iova = iova;
  }

  /** Runs on the device actor: a region over {@code region} with rights {@code access}. */
  static UserMr register(PdImpl pd, ByteBuffer region, int access) {
    return allocate(pd, "registerMr", key -> {
      // Each slot owns a 4 GiB window of I/O virtual address space; maxMrSize is at most that.
      UserMr mr = new UserMr(pd, region, (long) KeyTable.index(key) << 32);
      int rkey = AccessFlags.anyRemote(access) ? key : 0;
      mr.mapping.set(MrMapping.contiguous(mr, key, rkey, access, mr.iova, region));
      return mr;
    });
  }

  @Override
  public MrType type() {
    return MrType.USER;
  }

  @Override
  public long iova() {
    return iova;
  }

  @Override
  public long length() {
    return buffer.capacity();
  }

  @Override
  public int lkey() {
    return mappingOrLast().lkey();
  }

  @Override
  public int rkey() {
    return mappingOrLast().rkey();
  }

  @Override
  public ByteBuffer buffer() {
    return buffer;
  }

  @Override
  public int pageCount() {
    return (int) Math.min(Integer.MAX_VALUE, buffer.capacity() / Page.SIZE);
  }

  @Override
  public Page page(int index) {
    pd.device().checkUsable("page");
    if (buffer.isReadOnly()) {
      throw new InvalidArgumentException("index", describe() + " is read-only: its pages cannot be mapped for writing");
    }
    if (!isValid()) {
      throw new InvalidArgumentException("index", describe() + " was deregistered");
    }
    if (index < 0 || index >= pageCount()) {
      throw new InvalidArgumentException("index", "page " + index + " is outside the region's " + pageCount()
          + " whole page(s) of " + Page.SIZE + " bytes");
    }
    return new PageImpl(this, index, buffer.slice(index * Page.SIZE, Page.SIZE));
  }

  @Override
  public String describe() {
    return String.format("MR lkey 0x%08x (%d bytes, %s)", lkey(), buffer.capacity(),
        AccessFlags.toString(mappingOrLast().access()));
  }
}
