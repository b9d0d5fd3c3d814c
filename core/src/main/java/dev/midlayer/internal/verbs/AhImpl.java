package dev.midlayer.internal.verbs;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.verbs.AddressHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Internal API. An {@link AddressHandle}: its PD, number and current path. Every method is lock-free; the
 * path is replaced whole, so a post reads one consistent value ({@link #attrIfValid()}).
 */
public final class AhImpl implements AddressHandle {
  private final PdImpl pd;
  private final int handle;
  private volatile AhAttr attr;
  private final AtomicBoolean destroyed = new AtomicBoolean();

  AhImpl(PdImpl pd, int handle, AhAttr attr) {
    this.pd = pd;
    this.handle = handle;
    this.attr = attr;
  }

  @Override
  public PdImpl pd() {
    return pd;
  }

  @Override
  public int handle() {
    return handle;
  }

  @Override
  public AhAttr query() {
    checkAlive("queryAh");
    return attr;
  }

  /** The current path, or null once destroyed: what a post takes (never throws). */
  AhAttr attrIfValid() {
    AhAttr a = attr;
    return destroyed.get() ? null : a;
  }

  @Override
  public void modify(AhAttr newAttr) {
    dev.midlayer.monitor.ContractMonitor m = pd.device().monitor();
    if (m == null) {
      modifyNow(newAttr);
      return;
    }
    NonSleepingVerbs.watched(m, dev.midlayer.monitor.NonSleepingVerb.MODIFY_AH, this, pd.device(), pd.owner(), () -> {
      modifyNow(newAttr);
      return null;
    });
  }

  private void modifyNow(AhAttr newAttr) {
    pd.device().checkUsable("modifyAh");
    checkAlive("modifyAh");
    InvalidArgumentException.requireNonNull(newAttr, "attr");
    AhAttr current = attr;
    if (newAttr.grh() != current.grh()) {
      throw new InvalidArgumentException("grh", "modifyAh may not change the address type");
    }
    attr = newAttr.validate(pd.device().name(), pd.device().portCount(), pd.device()::cachedPort);
  }

  @Override
  public void destroy() {
    if (!destroyIfValid()) {
      throw new IllegalStateException("destroyAh: AH #" + handle + " was destroyed");
    }
  }

  /** Destroys the handle unless it was destroyed already; true if this call did. Lock-free. */
  boolean destroyIfValid() {
    if (!destroyed.compareAndSet(false, true)) {
      return false;
    }
    pd.forget(this);
    pd.release();
    return true;
  }

  @Override
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
