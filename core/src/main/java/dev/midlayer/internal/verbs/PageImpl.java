package dev.midlayer.internal.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import java.nio.ByteBuffer;
import java.util.List;

/** Internal API. A {@link Page}: its region, its number, and a shared view of its bytes. Immutable; any thread. */
public final class PageImpl implements Page {
  static final int SHIFT = 12;

  private final UserMr region;
  private final int index;
  private final ByteBuffer bytes;

  PageImpl(UserMr region, int index, ByteBuffer bytes) {
    this.region = region;
    this.index = index;
    this.bytes = bytes;
  }

  @Override
  public MemoryRegion region() {
    return region;
  }

  @Override
  public int index() {
    return index;
  }

  /** The page's {@link #SIZE} bytes, shared with the region, position 0 at the page's start. */
  public ByteBuffer bytes() {
    return bytes;
  }

  /** Throws unless every page is non-null, one of the midlayer's, and belongs to {@code device}'s memory. */
  static void checkAll(List<Page> pages, Device device, String field) {
    InvalidArgumentException.requireNonNull(pages, field);
    for (int i = 0; i < pages.size(); i++) {
      Page p = pages.get(i);
      if (p == null) {
        throw new InvalidArgumentException(field, "page " + i + " is null");
      }
      if (!(p instanceof PageImpl)) {
        throw new InvalidArgumentException(field, "page " + i + " is not a page of a registered region");
      }
      if (p.region().device() != device) {
        throw new InvalidArgumentException(field, "page " + i + " is memory of " + p.region().device().name()
            + ", not of " + device.name());
      }
    }
  }

  @Override
  public String toString() {
    return "page " + index + " of " + region.describe();
  }
}
