package dev.midlayer.internal.verbs;

import dev.midlayer.ib.TransportCounters;
import dev.midlayer.spi.QpContext;
import java.util.Collection;
import java.util.Collections;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Internal API. The verbs layer's state for one device: its memory key table, its live QPs by number, and
 * the counters that number its objects. Created with the device's attributes.
 */
public final class DeviceVerbs {
  private final KeyTable keys;
  private final AtomicInteger nextPd = new AtomicInteger(1);
  private final AtomicInteger nextCq = new AtomicInteger(1);
  private final AtomicInteger nextAh = new AtomicInteger(1);
  private final AtomicInteger nextSrq = new AtomicInteger(1);
  /** QP numbers 0 and 1 are the special QPs of IB; ours start at 2. */
  private final AtomicInteger nextQp = new AtomicInteger(2);
  private final ConcurrentHashMap<Integer, QpImpl> qps = new ConcurrentHashMap<>();
  /** The counters of destroyed QPs, by port; merged on the device actor, read from any thread. */
  private final ConcurrentHashMap<Integer, TransportCounters> retired = new ConcurrentHashMap<>();
  /** FMRs allocated and not freed; changed only on the device actor. */
  private int fmrs;

  public DeviceVerbs(int maxMr) {
    this.keys = new KeyTable(maxMr);
  }

  /** The device's memory keys. */
  public KeyTable keys() {
    return keys;
  }

  /** The live QP with number {@code qpNum}, or null. Lock-free; any thread. */
  public QpImpl qp(int qpNum) {
    return qps.get(qpNum);
  }

  /** The driver's view of the live QP with number {@code qpNum}, or null. Lock-free; any thread. */
  public QpContext qpContext(int qpNum) {
    QpImpl qp = qps.get(qpNum);
    return qp == null ? null : qp.driverSide();
  }

  /** The live QPs (a weakly consistent view). Lock-free; any thread. */
  public Collection<QpImpl> qps() {
    return Collections.unmodifiableCollection(qps.values());
  }

  /** The driver's views of the live QPs (a weakly consistent view). Lock-free; any thread. */
  public Collection<QpContext> qpContexts() {
    return new java.util.AbstractCollection<>() {
      @Override
      public java.util.Iterator<QpContext> iterator() {
        java.util.Iterator<QpImpl> it = qps.values().iterator();
        return new java.util.Iterator<>() {
          @Override
          public boolean hasNext() {
            return it.hasNext();
          }

          @Override
          public QpContext next() {
            return it.next().driverSide();
          }
        };
      }

      @Override
      public int size() {
        return qps.size();
      }
    };
  }

  int nextQpNumber() {
    return nextQp.getAndIncrement() & 0xFFFFFF;
  }

  void addQp(QpImpl qp) {
    qps.put(qp.qpNum(), qp);
  }

  void removeQp(QpImpl qp) {
    qps.remove(qp.qpNum(), qp);
  }

  /** A destroyed QP's counters, kept in its port's sum. Device actor (the QP's teardown). */
  void retireCounters(int portNum, TransportCounters c) {
    retired.merge(portNum, c, TransportCounters::plus);
  }

  /**
   * The sum of the counters of the live QPs bound to {@code portNum} and of the destroyed ones. Lock-free; any
   * thread; weakly consistent (a QP being destroyed may be missing for a moment).
   */
  public TransportCounters portCounters(int portNum) {
    TransportCounters sum = retired.getOrDefault(portNum, TransportCounters.ZERO);
    for (QpImpl qp : qps.values()) {
      if (qp.attr.portNum() == portNum) {
        sum = sum.plus(qp.counters());
      }
    }
    return sum;
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

  /** The next CQ number. */
  public int nextCqNumber() {
    return nextCq.getAndIncrement();
  }

  int nextAhHandle() {
    return nextAh.getAndIncrement();
  }
}
