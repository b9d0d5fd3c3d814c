package dev.midlayer.ib;


/**
 * What a device is and what it can do ({@code struct ib_device_attr}), reported by the driver's
 * {@link dev.midlayer.spi.DeviceOps.QueryDevice} op. The midlayer caches the value it read at registration
 * ({@link dev.midlayer.device.Device#attributes()}) and checks verbs against these limits.
 * Immutable; build with {@link #builder()}.
 *
 * <p>Threading: every method of the record and of its {@link Builder} never blocks. The record may be used
 * from any thread; a builder is not thread-safe: use it from one thread at a time.
 *
 * @param firmwareVersion free-form firmware version
 * @param nodeGuid the device's node GUID
 * @param systemImageGuid the system image GUID
 * @param vendorId IEEE vendor id
 * @param vendorPartId vendor part id
 * @param hardwareVersion hardware revision
 * @param physPortCount number of ports, numbered 1..physPortCount
 * @param maxMrSize largest memory region, in bytes
 * @param pageSizeCap supported page sizes (bit n set = 2^n bytes); must include the midlayer's
 *     {@link #PAGE_SIZE} (4 KiB)
 * @param maxQp maximum number of QPs
 * @param maxQpWr maximum outstanding WRs on one send or receive queue
 * @param maxSge maximum scatter/gather entries per WR
 * @param maxCq maximum number of CQs
 * @param maxCqe maximum entries in one CQ
 * @param maxMr maximum number of MRs
 * @param maxPd maximum number of PDs
 * @param maxQpRdAtom maximum incoming RDMA READ/atomic per QP (responder resources)
 * @param maxQpInitRdAtom maximum outstanding RDMA READ/atomic a QP may issue (initiator depth)
 * @param maxSrq maximum number of SRQs
 * @param maxSrqWr maximum WRs in one SRQ
 * @param maxSrqSge maximum SGEs per SRQ WR
 * @param maxAh maximum number of address handles
 * @param maxFmr maximum number of FMRs
 * @param maxMapPerFmr maximum maps of one FMR before it must be unmapped (1..255, at most the variants of one
 *     key index, as hardware FMR tables allowed)
 * @param maxFastRegPageListLen maximum pages of a fast-registration region ({@code allocMr})
 * @param maxInlineData maximum inline payload of a send WR, in bytes
 * @param deviceCapFlags capabilities, the {@code IB_DEVICE_*} bits of {@link DeviceCapFlags}
 * @param atomicCap how atomic the device's atomic operations are
 */
public record DeviceAttributes(
    String firmwareVersion,
    long nodeGuid,
    long systemImageGuid,
    int vendorId,
    int vendorPartId,
    int hardwareVersion,
    int physPortCount,
    long maxMrSize,
    long pageSizeCap,
    int maxQp,
    int maxQpWr,
    int maxSge,
    int maxCq,
    int maxCqe,
    int maxMr,
    int maxPd,
    int maxQpRdAtom,
    int maxQpInitRdAtom,
    int maxSrq,
    int maxSrqWr,
    int maxSrqSge,
    int maxAh,
    int maxFmr,
    int maxMapPerFmr,
    int maxFastRegPageListLen,
    int maxInlineData,
    long deviceCapFlags,
    AtomicCap atomicCap) {

  /** The midlayer's page size: 4 KiB on every device ({@code dev.midlayer.verbs.Page.SIZE}). */
  public static final int PAGE_SIZE = 4096;

  /**
   * Checks the fields.
   *
   * @throws InvalidArgumentException if {@code firmwareVersion} or {@code atomicCap} is null or a limit is out of
   *     range (see the fields)
   */
  public DeviceAttributes {
    InvalidArgumentException.requireNonNull(firmwareVersion, "firmwareVersion");
    InvalidArgumentException.requireNonNull(atomicCap, "atomicCap");
    if (maxMapPerFmr < 1 || maxMapPerFmr > 255) {
      // Each FMR map takes the next key of its slot; one unmap cycle stays within the 255 other variants of an index.
      throw new InvalidArgumentException("maxMapPerFmr", "must be 1..255, was " + maxMapPerFmr);
    }
    if ((pageSizeCap & PAGE_SIZE) == 0) {
      throw new InvalidArgumentException("pageSizeCap", String.format(
          "0x%x lacks the midlayer's %d-byte page", pageSizeCap, PAGE_SIZE));
    }
    if (maxFastRegPageListLen < 1) {
      throw new InvalidArgumentException("maxFastRegPageListLen", "must be at least 1, was " + maxFastRegPageListLen);
    }
    if (physPortCount < 1 || physPortCount > 255) {
      throw new InvalidArgumentException("physPortCount", "must be 1..255, was " + physPortCount);
    }
  }

  /**
   * A builder with the defaults of a small software device (one port, modest limits, no capability flags,
   * {@link AtomicCap#ATOMIC_NONE}).
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builder for {@link DeviceAttributes}. Not thread-safe: one thread at a time; never blocks. */
  public static final class Builder {
    private String firmwareVersion = "0.0.0";
    private long nodeGuid;
    private long systemImageGuid;
    private int vendorId;
    private int vendorPartId;
    private int hardwareVersion;
    private int physPortCount = 1;
    private long maxMrSize = 1L << 32;
    private long pageSizeCap = 4096;
    private int maxQp = 1 << 16;
    private int maxQpWr = 1 << 14;
    private int maxSge = 32;
    private int maxCq = 1 << 14;
    private int maxCqe = 1 << 20;
    private int maxMr = 1 << 16;
    private int maxPd = 1 << 14;
    private int maxQpRdAtom = 128;
    private int maxQpInitRdAtom = 128;
    private int maxSrq = 1 << 12;
    private int maxSrqWr = 1 << 14;
    private int maxSrqSge = 32;
    private int maxAh = 1 << 16;
    private int maxFmr = 1 << 12;
    private int maxMapPerFmr = 255;
    private int maxFastRegPageListLen = 512;
    private int maxInlineData = 256;
    private long deviceCapFlags;
    private AtomicCap atomicCap = AtomicCap.ATOMIC_NONE;

    private Builder() {}

    /** Sets {@code firmwareVersion}: free-form firmware version. */
    public Builder firmwareVersion(String v) { this.firmwareVersion = v; return this; }
    /** Sets {@code nodeGuid}: the device's node GUID. */
    public Builder nodeGuid(long v) { this.nodeGuid = v; return this; }
    /** Sets {@code systemImageGuid}: the system image GUID. */
    public Builder systemImageGuid(long v) { this.systemImageGuid = v; return this; }
    /** Sets {@code vendorId}: IEEE vendor id. */
    public Builder vendorId(int v) { this.vendorId = v; return this; }
    /** Sets {@code vendorPartId}: vendor part id. */
    public Builder vendorPartId(int v) { this.vendorPartId = v; return this; }
    /** Sets {@code hardwareVersion}: hardware revision. */
    public Builder hardwareVersion(int v) { this.hardwareVersion = v; return this; }
    /** Sets {@code physPortCount}: number of ports, numbered 1..physPortCount. */
    public Builder physPortCount(int v) { this.physPortCount = v; return this; }
    /** Sets {@code maxMrSize}: largest memory region, in bytes. */
    public Builder maxMrSize(long v) { this.maxMrSize = v; return this; }
    /**
     * Sets {@code pageSizeCap}: supported page sizes (bit n set = 2^n bytes); must include the midlayer's
     * {@link DeviceAttributes#PAGE_SIZE} (4 KiB).
     */
    public Builder pageSizeCap(long v) { this.pageSizeCap = v; return this; }
    /** Sets {@code maxQp}: maximum number of QPs. */
    public Builder maxQp(int v) { this.maxQp = v; return this; }
    /** Sets {@code maxQpWr}: maximum outstanding WRs on one send or receive queue. */
    public Builder maxQpWr(int v) { this.maxQpWr = v; return this; }
    /** Sets {@code maxSge}: maximum scatter/gather entries per WR. */
    public Builder maxSge(int v) { this.maxSge = v; return this; }
    /** Sets {@code maxCq}: maximum number of CQs. */
    public Builder maxCq(int v) { this.maxCq = v; return this; }
    /** Sets {@code maxCqe}: maximum entries in one CQ. */
    public Builder maxCqe(int v) { this.maxCqe = v; return this; }
    /** Sets {@code maxMr}: maximum number of MRs. */
    public Builder maxMr(int v) { this.maxMr = v; return this; }
    /** Sets {@code maxPd}: maximum number of PDs. */
    public Builder maxPd(int v) { this.maxPd = v; return this; }
    /** Sets {@code maxQpRdAtom}: maximum incoming RDMA READ/atomic per QP (responder resources). */
    public Builder maxQpRdAtom(int v) { this.maxQpRdAtom = v; return this; }
    /** Sets {@code maxQpInitRdAtom}: maximum outstanding RDMA READ/atomic a QP may issue (initiator depth). */
    public Builder maxQpInitRdAtom(int v) { this.maxQpInitRdAtom = v; return this; }
    /** Sets {@code maxSrq}: maximum number of SRQs. */
    public Builder maxSrq(int v) { this.maxSrq = v; return this; }
    /** Sets {@code maxSrqWr}: maximum WRs in one SRQ. */
    public Builder maxSrqWr(int v) { this.maxSrqWr = v; return this; }
    /** Sets {@code maxSrqSge}: maximum SGEs per SRQ WR. */
    public Builder maxSrqSge(int v) { this.maxSrqSge = v; return this; }
    /** Sets {@code maxAh}: maximum number of address handles. */
    public Builder maxAh(int v) { this.maxAh = v; return this; }
    /** Sets {@code maxFmr}: maximum number of FMRs. */
    public Builder maxFmr(int v) { this.maxFmr = v; return this; }
    /**
     * Sets {@code maxMapPerFmr}: maximum maps of one FMR before it must be unmapped (1..255, at most the
     * variants of one key index, as hardware FMR tables allowed).
     */
    public Builder maxMapPerFmr(int v) { this.maxMapPerFmr = v; return this; }
    /** Sets {@code maxFastRegPageListLen}: maximum pages of a fast-registration region ({@code allocMr}). */
    public Builder maxFastRegPageListLen(int v) { this.maxFastRegPageListLen = v; return this; }
    /** Sets {@code maxInlineData}: maximum inline payload of a send WR, in bytes. */
    public Builder maxInlineData(int v) { this.maxInlineData = v; return this; }
    /** Sets {@code deviceCapFlags}: capabilities, the {@code IB_DEVICE_*} bits of {@link DeviceCapFlags}. */
    public Builder deviceCapFlags(long v) { this.deviceCapFlags = v; return this; }
    /** Sets {@code atomicCap}: how atomic the device's atomic operations are. */
    public Builder atomicCap(AtomicCap v) { this.atomicCap = v; return this; }

    /** A {@link DeviceAttributes} of the values set, the others at their defaults; checked as by the constructor. */
    public DeviceAttributes build() {
      return new DeviceAttributes(firmwareVersion, nodeGuid, systemImageGuid, vendorId, vendorPartId,
          hardwareVersion, physPortCount, maxMrSize, pageSizeCap, maxQp, maxQpWr, maxSge, maxCq, maxCqe,
          maxMr, maxPd, maxQpRdAtom, maxQpInitRdAtom, maxSrq, maxSrqWr, maxSrqSge, maxAh, maxFmr,
          maxMapPerFmr, maxFastRegPageListLen, maxInlineData, deviceCapFlags, atomicCap);
    }
  }
}
