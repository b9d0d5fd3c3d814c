package dev.midlayer.testsupport;

import dev.midlayer.device.Device;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.LinkLayer;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.QpContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A driver for the verbs and CQ tests whose device limits and ports the test chooses: {@code maxCqe},
 * {@code maxMr}, {@code maxMrSize}, how many GIDs each port has and which ports are Ethernet (RoCE).
 * There is no QP unless the test asks for them ({@link #withQps()}): the test itself plays the driver's data
 * path and pushes completions.
 */
public final class VerbsTestDriver {
  private static final AtomicInteger GUIDS = new AtomicInteger(0x100);

  private int ports = 1;
  private int maxCqe = 1 << 20;
  private int maxMr = 1 << 16;
  private long maxMrSize = 1L << 32;
  private int gidsPerPort = 1;
  private final List<Integer> ethernetPorts = new ArrayList<>();
  private final long guid = 0x0002_c903_1000_0000L | GUIDS.getAndIncrement();
  private final AtomicReference<Device> device = new AtomicReference<>();
  private final AtomicInteger deallocCalls = new AtomicInteger();
  private boolean qps;
  private final java.util.Map<Integer, QpContext> qpContexts = new java.util.concurrent.ConcurrentHashMap<>();

  public VerbsTestDriver ports(int n) {
    this.ports = n;
    return this;
  }

  public VerbsTestDriver maxCqe(int n) {
    this.maxCqe = n;
    return this;
  }

  public VerbsTestDriver maxMr(int n) {
    this.maxMr = n;
    return this;
  }

  public VerbsTestDriver maxMrSize(long n) {
    this.maxMrSize = n;
    return this;
  }

  public VerbsTestDriver gidsPerPort(int n) {
    this.gidsPerPort = n;
    return this;
  }

  /** Makes port {@code portNum} an Ethernet (RoCE) port, where an address handle needs a GRH. */
  public VerbsTestDriver ethernet(int portNum) {
    ethernetPorts.add(portNum);
    return this;
  }

  /**
   * Lets the device make QPs. Their driver side does nothing by itself: the test plays it through
   * {@link #qp(int)} (takes the work requests and completes them), and a modify (to ERR too) completes at once.
   */
  public VerbsTestDriver withQps() {
    this.qps = true;
    return this;
  }

  /** The midlayer's side of QP {@code qpNum} as this driver was given it, or null. */
  public QpContext qp(int qpNum) {
    return qpContexts.get(qpNum);
  }

  public int maxCqe() {
    return maxCqe;
  }

  public int gidsPerPort() {
    return gidsPerPort;
  }

  /** The ops table. */
  public DeviceOps ops() {
    DeviceOps.Builder b = DeviceOps.builder("verbsdrv")
        .queryDevice(this::queryDevice)
        .queryPort(this::queryPort)
        .enableDriver(dd -> device.set(Internal.handleOf(dd)))
        .deallocDriver(d -> deallocCalls.incrementAndGet());
    if (qps) {
      b.createQp((qp, spawner) -> {
        qpContexts.put(qp.qpNum(), qp);
        return new IdleQp();
      });
    }
    return b.build();
  }

  /** A QP's driver side that executes nothing: the test takes and completes its work requests itself. */
  private static final class IdleQp implements DriverQp {
    @Override
    public void sendDoorbell() {}

    @Override
    public void flushDoorbell() {}

    @Override
    public CompletionStage<?> modified(QpState from, QpState to, QpAttr attr, int mask) {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public void destroy() {}
  }

  public DeviceAttributes queryDevice() {
    return DeviceAttributes.builder()
        .physPortCount(ports)
        .nodeGuid(guid)
        .firmwareVersion("2.0.0")
        .maxCqe(maxCqe)
        .maxMr(maxMr)
        .maxMrSize(maxMrSize)
        .build();
  }

  public PortAttributes queryPort(int portNum) {
    List<Gid> gids = new ArrayList<>();
    for (int i = 0; i < gidsPerPort; i++) {
      gids.add(Gid.linkLocal(guid + portNum * 16L + i));
    }
    return PortAttributes.builder()
        .lid(portNum)
        .linkLayer(ethernetPorts.contains(portNum) ? LinkLayer.ETHERNET : LinkLayer.INFINIBAND)
        .gids(gids)
        .build();
  }

  /** The device handle given to enable_driver, or null before. */
  public Device device() {
    return device.get();
  }

  public int deallocCalls() {
    return deallocCalls.get();
  }
}
