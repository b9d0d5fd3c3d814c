package dev.midlayer.spi;

import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The ops table a low-level driver hands to {@code Midlayer.registerDevice}: the Java form
 * of {@code struct ib_device_ops}. Each op is a small functional interface; an op the driver does not
 * set is absent, and a device whose table lacks a {@linkplain DriverOp#mandatory() mandatory} op is
 * refused with {@link MissingDriverOpException}.
 *
 * <p>Rules for drivers (the seed's): every op must be fully reentrant (the midlayer adds no
 * serialization of its own beyond what each op's Javadoc says); ops that {@linkplain DriverOp#maySleep()
 * may sleep} are called by midlayer actors on the control dispatcher, where blocking is allowed; a
 * driver must never call a consumer callback from inside an op (defer it, e.g. by a self-message).
 *
 * <p>Calling back into the midlayer from an op: every op runs on the device's actor. It may call the
 * non-sleeping verbs (posts, polls, AH verbs, FMR maps), {@link DriverDevice#dispatchPortEvent}, the getters of
 * the device, and the may-sleep verbs of <i>other</i> devices without waiting for them. A may-sleep verb of its
 * own device (queries, object creation, event handler registration, {@code unregisterDevice}) is refused with
 * {@link DriverSelfWaitException}: it could only run after the op returned, so waiting for it would hang.
 *
 * <p>Threading: immutable once built; every method of the table itself (the getters, {@link #has},
 * {@link #missingMandatoryOps}) never blocks and may be called from any thread. The ops it holds are
 * called by the midlayer in the device actor's turn; each op's interface says whether it may sleep.
 */
public final class DeviceOps {

  /**
   * {@code query_device}: the device's attributes. May sleep. Called at registration and by
   * {@code queryDevice}, in the device actor's turn (control dispatcher).
   */
  @FunctionalInterface
  public interface QueryDevice {
    /** Reads the device's attributes from the driver; may sleep; in the device actor's turn. */
    DeviceAttributes queryDevice() throws Exception;
  }

  /**
   * {@code query_port}: the current attributes of port {@code portNum} (1-based, already validated). May
   * sleep. Called at registration, by {@code queryPort} and before a port event is delivered, in the device
   * actor's turn (control dispatcher).
   */
  @FunctionalInterface
  public interface QueryPort {
    /** Reads port {@code portNum}'s attributes from the driver; may sleep; in the device actor's turn. */
    PortAttributes queryPort(int portNum) throws Exception;
  }

  /**
   * {@code enable_driver}: called once the device's attributes and ports were read, before it is listed and
   * before any client's {@code add}. Hands the driver its {@link DriverDevice} (to dispatch events, find
   * QPs, resolve keys). May sleep; called in the device actor's turn (control dispatcher).
   */
  @FunctionalInterface
  public interface EnableDriver {
    /** Enables the driver for {@code device}; may sleep; in the device actor's turn. */
    void enable(DriverDevice device) throws Exception;
  }

  /**
   * {@code dealloc_driver}: called once, after every client's {@code remove} returned and the device's
   * leftover resources were reclaimed; the driver frees what it holds for the device. May sleep; called in
   * the device actor's turn (control dispatcher).
   */
  @FunctionalInterface
  public interface DeallocDriver {
    /** Frees what the driver holds for {@code device}; may sleep; in the device actor's turn. */
    void dealloc(DriverDevice device) throws Exception;
  }

  /**
   * {@code create_qp}: the driver's side of a new QP (already validated, with its work queues and QP
   * number). May sleep; called in the device actor's turn; {@code spawner} spawns the driver's actors for the
   * QP as children of the device actor, on the data-path dispatcher.
   */
  @FunctionalInterface
  public interface CreateQp {
    /**
     * Makes the driver's side of {@code qp}; may sleep; in the device actor's turn, which is also the only
     * place {@code spawner} may be used.
     */
    DriverQp createQp(QpContext qp, Spawner spawner) throws Exception;
  }

  /**
   * The wait that {@code dereg_mr} and {@code unmap_fmr} do in a kernel driver: returns once every data
   * transfer the driver started before the call has finished reading or writing registered memory. The
   * midlayer calls it after a region's keys stopped resolving (deregister, FMR unmap and dealloc), so that
   * when those verbs complete no transfer still touches the old pages. May sleep (briefly: as long as a
   * transfer in progress takes); called in the device actor's turn. Optional: a driver that moves no data,
   * or finishes every transfer inside the verb that starts it, has nothing to wait for.
   */
  @FunctionalInterface
  public interface MemoryFence {
    /**
     * Blocks until the transfers the driver started before the call have stopped touching registered memory;
     * in the device actor's turn.
     */
    void await() throws Exception;
  }

  private final String driverName;
  private final QueryDevice queryDevice;
  private final QueryPort queryPort;
  private final EnableDriver enableDriver;
  private final DeallocDriver deallocDriver;
  private final CreateQp createQp;
  private final MemoryFence memoryFence;

  private DeviceOps(Builder b) {
    this.driverName = b.driverName;
    this.queryDevice = b.queryDevice;
    this.queryPort = b.queryPort;
    this.enableDriver = b.enableDriver;
    this.deallocDriver = b.deallocDriver;
    this.createQp = b.createQp;
    this.memoryFence = b.memoryFence;
  }

  /** Starts an ops table for the driver called {@code driverName} (e.g. {@code "loopback"}). */
  public static Builder builder(String driverName) {
    return new Builder(InvalidArgumentException.requireNonBlank(driverName, "driverName"));
  }

  /** The driver's name, used in logs and error messages. */
  public String driverName() {
    return driverName;
  }

  /** The query_device op, or null if the driver lacks it. */
  public QueryDevice queryDevice() {
    return queryDevice;
  }

  /** The query_port op, or null if the driver lacks it. */
  public QueryPort queryPort() {
    return queryPort;
  }

  /** The enable_driver op, or null (optional). */
  public EnableDriver enableDriver() {
    return enableDriver;
  }

  /** The dealloc_driver op, or null (optional). */
  public DeallocDriver deallocDriver() {
    return deallocDriver;
  }

  /** The create_qp op, or null if the driver has no data path (QPs cannot be created). */
  public CreateQp createQp() {
    return createQp;
  }

  /** The memory fence op, or null (optional: nothing to wait for). */
  public MemoryFence memoryFence() {
    return memoryFence;
  }

  /** Which ops this table has. */
  public boolean has(DriverOp op) {
    return present().get(op);
  }

  /** The mandatory ops this table lacks, in {@link DriverOp} order; empty when the table is complete. */
  public List<DriverOp> missingMandatoryOps() {
    List<DriverOp> missing = new ArrayList<>();
    present().forEach((op, has) -> {
      if (op.mandatory() && !has) {
        missing.add(op);
      }
    });
    return missing;
  }

  private Map<DriverOp, Boolean> present() {
    Map<DriverOp, Boolean> m = new EnumMap<>(DriverOp.class);
    m.put(DriverOp.QUERY_DEVICE, queryDevice != null);
    m.put(DriverOp.QUERY_PORT, queryPort != null);
    m.put(DriverOp.ENABLE_DRIVER, enableDriver != null);
    m.put(DriverOp.DEALLOC_DRIVER, deallocDriver != null);
    m.put(DriverOp.CREATE_QP, createQp != null);
    m.put(DriverOp.MEMORY_FENCE, memoryFence != null);
    return m;
  }

  @Override
  public String toString() {
    return "DeviceOps[" + driverName + "]";
  }

  /**
   * Builder for {@link DeviceOps}. Not thread-safe: confine it to the thread that builds the table. Every
   * method never blocks.
   */
  public static final class Builder {
    private final String driverName;
    private QueryDevice queryDevice;
    private QueryPort queryPort;
    private EnableDriver enableDriver;
    private DeallocDriver deallocDriver;
    private CreateQp createQp;
    private MemoryFence memoryFence;

    private Builder(String driverName) {
      this.driverName = driverName;
    }

    /** Sets the {@code query_device} op (mandatory). */
    public Builder queryDevice(QueryDevice op) { this.queryDevice = op; return this; }
    /** Sets the {@code query_port} op (mandatory). */
    public Builder queryPort(QueryPort op) { this.queryPort = op; return this; }
    /** Sets the {@code enable_driver} op (optional). */
    public Builder enableDriver(EnableDriver op) { this.enableDriver = op; return this; }
    /** Sets the {@code dealloc_driver} op (optional). */
    public Builder deallocDriver(DeallocDriver op) { this.deallocDriver = op; return this; }
    /** Sets the {@code create_qp} op (optional; without it QPs cannot be created). */
    public Builder createQp(CreateQp op) { this.createQp = op; return this; }
    /** Sets the memory fence op (optional). */
    public Builder memoryFence(MemoryFence op) { this.memoryFence = op; return this; }

    /** Builds the table. Missing mandatory ops are reported at registration, not here. */
    public DeviceOps build() {
      return new DeviceOps(this);
    }
  }
}
