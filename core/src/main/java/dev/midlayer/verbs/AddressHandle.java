package dev.midlayer.verbs;

import dev.midlayer.device.DeviceResources;
import dev.midlayer.ib.AhAttr;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An address handle ({@code struct ib_ah}): a validated path to a remote port, named in UD work
 * requests. Created with {@link ProtectionDomain#createAh}.
 *
 * <p>Threading: every method <b>never blocks and is callable from any thread and any context</b>
 * (the seed's rule for create/modify/query/destroy AH). An AH named by a posted WR must not be modified
 * or destroyed until that WR's completion has been polled.
 */
public final class AddressHandle {
  private final ProtectionDomain pd;
  private final int handle;
  private volatile AhAttr attr;
  private final AtomicBoolean destroyed = new AtomicBoolean();

  AddressHandle(ProtectionDomain pd, int handle, AhAttr attr) {
    this.pd = pd;
    this.handle = handle;
    this.attr = attr;
  }

  /** The protection domain. */
  public ProtectionDomain pd() {
    return pd;
  }

  /** The handle's number on its device. */
  public int handle() {
    return handle;
  }

  /** The current attributes ({@code rdma_query_ah}). Never blocks; any context. */
  public AhAttr query() {
    checkAlive("queryAh");
    return attr;
  }

  /**
   * Changes the path ({@code rdma_modify_ah}). Never blocks; any context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the new attributes do not fit the device, or would
   *     change the kind of address (GRH or not)
   */
  public void modify(AhAttr newAttr) {
    checkAlive("modifyAh");
    dev.midlayer.ib.InvalidArgumentException.requireNonNull(newAttr, "attr");
    DeviceResources.checkUsable(pd.device(), "modifyAh");
    AhAttr current = attr;
    if (newAttr.grh() != current.grh()) {
      throw new dev.midlayer.ib.InvalidArgumentException("grh", "modifyAh may not change the address type");
    }
    attr = newAttr.validate(pd.device().name(), pd.device().portCount(), pd.device()::cachedPort);
  }

  /**
   * Destroys the handle ({@code rdma_destroy_ah}). Never blocks; any context.
   *
   * @throws IllegalStateException if it was destroyed already
   */
  public void destroy() {
    if (!destroyed.compareAndSet(false, true)) {
      throw new IllegalStateException("destroyAh: AH #" + handle + " was destroyed");
    }
    pd.release();
  }

  /** False once destroyed. */
  public boolean isValid() {
    return !destroyed.get();
  }

  private void checkAlive(String verb) {
    if (destroyed.get()) {
      throw new IllegalStateException(verb + ": AH #" + handle + " was destroyed");
    }
  }

  @Override
  public String toString() {
    return "AH #" + handle + " " + attr;
  }
}
