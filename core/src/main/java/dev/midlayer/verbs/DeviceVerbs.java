package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResources;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Internal API. The verbs layer's state for one device: its memory key table and the counters that
 * number its objects. Created with the device; reached through {@link #of(Device)}.
 */
public final class DeviceVerbs {
  private final KeyTable keys;
  private final AtomicInteger nextPd = new AtomicInteger(1);
  private final AtomicInteger nextCq = new AtomicInteger(1);
  private final AtomicInteger nextAh = new AtomicInteger(1);
  private final AtomicInteger nextSrq = new AtomicInteger(1);
  /** QP numbers 0 and 1 are the special QPs of IB; ours start at 2. */
  private final AtomicInteger nextQp = new AtomicInteger(2);
  private final ConcurrentHashMap<Integer, QueuePair> qps = new ConcurrentHashMap<>();
  /** FMRs allocated and not freed; changed only on the device actor. */
  private int fmrs;

  public DeviceVerbs(int maxMr) {
    this.keys = new KeyTable(maxMr);
  }

  /** The verbs state of {@code device}. */
  public static DeviceVerbs of(Device device) {
    return DeviceResources.verbs(device);
  }

  /** The device's memory keys. */
  public KeyTable keys() {
    return keys;
  }

  /** The live QP with number {@code qpNum}, or null. Lock-free; any thread (drivers route by it). */
  public QueuePair qp(int qpNum) {
    return qps.get(qpNum);
  }

  /** The live QPs (a weakly consistent view). Lock-free; any thread. */
  public java.util.Collection<QueuePair> qps() {
    return java.util.Collections.unmodifiableCollection(qps.values());
  }

  int nextQpNumber() {
    return nextQp.getAndIncrement() & 0xFFFFFF;
  }

  void addQp(QueuePair qp) {
    qps.put(qp.qpNum(), qp);
  }

  void removeQp(QueuePair qp) {
    qps.remove(qp.qpNum(), qp);
  }

  /** Counts one more FMR if the device allows it ({@code maxFmr}). Device actor only. */
  boolean reserveFmr(int maxFmr) {
    if (fmrs >= maxFmr) {
      return false;
    }
    fmrs++;
    return true;
  }

  /** Device actor only. */
  void releaseFmr() {
    fmrs--;
  }

  int nextSrqNumber() {
    return nextSrq.getAndIncrement();
  }

  int nextPdHandle() {
    return nextPd.getAndIncrement();
  }

  /** Internal: the next CQ number. */
  public int nextCqNumber() {
    return nextCq.getAndIncrement();
  }

  int nextAhHandle() {
    return nextAh.getAndIncrement();
  }
}
