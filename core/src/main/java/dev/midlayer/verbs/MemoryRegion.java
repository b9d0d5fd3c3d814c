package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResource;
import dev.midlayer.device.DeviceResources;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A registered memory region ({@code struct ib_mr}): bytes of a {@link ByteBuffer} that work requests may
 * read and write, addressed by I/O virtual address ({@link #iova()} to {@code iova() + length() - 1}) and
 * protected by keys: the {@link #lkey()} for local SGEs, the {@link #rkey()} (non-zero only if a remote
 * right was granted) for peers. Each key is 24 bits of slot and 8 bits of variant, so a key of a
 * deregistered region never matches another one.
 *
 * <p>Threading: the getters and {@link #buffer()} never block and may be called from any thread.
 * {@link #deregister()} <b>may sleep</b> (not from atomic context).
 */
public final class MemoryRegion implements DeviceResource {
  private final ProtectionDomain pd;
  private final ByteBuffer buffer;
  private final long iova;
  private final int access;
  private final int lkey;
  private final int rkey;
  private volatile boolean valid = true;

  private MemoryRegion(ProtectionDomain pd, ByteBuffer buffer, long iova, int access, int key) {
    this.pd = pd;
    this.buffer = buffer;
    this.iova = iova;
    this.access = access;
    this.lkey = key;
    this.rkey = (access & (AccessFlags.REMOTE_READ | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC)) != 0
        ? key : 0;
  }

  /** Runs on the device actor. */
  static MemoryRegion register(ProtectionDomain pd, ByteBuffer region, int access) {
    pd.retain(); // fails if the PD was deallocated meanwhile
    KeyTable keys = DeviceVerbs.of(pd.device()).keys();
    int key = keys.allocate();
    if (key < 0) {
      pd.release();
      throw new ResourceBusyException("registerMr: device " + pd.device().name() + " has no free memory key (maxMr "
          + pd.device().attributes().maxMr() + ")");
    }
    // Each slot owns a 4 GiB window of I/O virtual address space; maxMrSize is at most that.
    long iova = (long) KeyTable.index(key) << 32;
    MemoryRegion mr = new MemoryRegion(pd, region, iova, access, key);
    keys.publish(key, mr);
    return mr;
  }

  /** The protection domain. */
  public ProtectionDomain pd() {
    return pd;
  }

  /** The device. */
  public Device device() {
    return pd.device();
  }

  /** The first I/O virtual address of the region. */
  public long iova() {
    return iova;
  }

  /** Length in bytes. */
  public long length() {
    return buffer.capacity();
  }

  /** The {@link AccessFlags} granted. */
  public int access() {
    return access;
  }

  /** The local key, for SGEs. */
  public int lkey() {
    return lkey;
  }

  /** The remote key for peers, or 0 if no remote right was granted. */
  public int rkey() {
    return rkey;
  }

  /** False once deregistered (or, later, invalidated): every use of its keys then fails. */
  public boolean isValid() {
    return valid;
  }

  /**
   * The registered bytes: a view of the buffer given at registration, position 0 at {@link #iova()}. Use
   * absolute get/put, or a {@code duplicate()}, since the view is shared.
   */
  public ByteBuffer buffer() {
    return buffer;
  }

  /**
   * True if {@code [addr, addr + len)} lies inside the region. Never blocks; any thread.
   */
  public boolean contains(long addr, long len) {
    return len >= 0 && addr >= iova && addr - iova <= buffer.capacity() - len;
  }

  /**
   * Deregisters the region ({@code ib_dereg_mr}): its keys stop working at once for every later access.
   * <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if it was
   *     deregistered already
   */
  public CompletionStage<Done> deregister() {
    return DeviceResources.destroy(pd.device(), "deregisterMr", this, () -> {
      reclaim();
      return null;
    });
  }

  @Override
  public String describe() {
    return String.format("MR lkey 0x%08x (%d bytes, %s)", lkey, buffer.capacity(), AccessFlags.toString(access));
  }

  @Override
  public void reclaim() {
    valid = false;
    DeviceVerbs.of(pd.device()).keys().release(lkey);
    pd.release();
  }

  @Override
  public String toString() {
    return describe() + " on " + pd.device().name();
  }
}
