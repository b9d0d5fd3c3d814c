package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.SrqAttr;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A protection domain ({@code struct ib_pd}): memory regions, address handles and QPs created in it may
 * only be used together. Created with {@link Device#allocPd()}.
 *
 * <p>Threading: every method is safe from any thread. {@link #registerMr}, {@link #allocMr},
 * {@link #allocFmr}, {@link #createQp}, {@link #createSrq} and {@link #dealloc} <b>may sleep</b> (they run
 * on the device actor; not from atomic context). {@link #createAh} never blocks and may be called from any
 * context, callbacks included.
 */
public interface ProtectionDomain {
  /** The device the PD belongs to. */
  Device device();

  /** The PD's number on its device. */
  int handle();

  /** How many objects use the PD now (0 once deallocated). Never blocks; any thread. */
  int useCount();

  /**
   * Registers the bytes of {@code buffer} from its position to its limit ({@code ib_reg_mr}), direct or
   * heap, as a memory region with {@code access} rights ({@link dev.midlayer.ib.AccessFlags}). The region
   * shares the buffer's content (not a copy); the buffer's position and limit are not used afterwards.
   * <b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the buffer is null or empty, larger than the
   *     device's {@code maxMrSize}, read-only while write access is asked for, or the access flags are
   *     invalid (REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE, unknown bits)
   * @return a stage that fails with {@link ResourceBusyException} if the device has no free key
   */
  CompletionStage<MemoryRegion> registerMr(ByteBuffer buffer, int access);

  /**
   * Allocates a fast-registration region ({@code ib_alloc_mr(pd, IB_MR_TYPE_MEM_REG, maxPages)}) in state
   * FREE: map pages with {@link MemoryRegion#mapPages} and post a {@link dev.midlayer.ib.WrOpcode#REG_MR}
   * to make it VALID. <b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code maxPages} is not 1 to the device's
   *     {@code maxFastRegPageListLen}
   * @return a stage that fails with {@link ResourceBusyException} if the device has no free memory key
   */
  CompletionStage<MemoryRegion> allocMr(int maxPages);

  /**
   * Allocates a fast memory region ({@code ib_alloc_fmr}) with rights {@code access} for maps of up to
   * {@code maxPages} pages; it starts unmapped. <b>May sleep</b>: not from atomic context (from a handler it
   * throws {@link dev.midlayer.context.IllegalContextException}). Mapping it ({@link Fmr#mapPhys}) never
   * sleeps.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the access flags are invalid or {@code maxPages}
   *     is not 1 to the device's {@code maxFastRegPageListLen}
   * @return a stage that fails with {@link ResourceBusyException} if the device has {@code maxFmr} FMRs
   *     already or no free memory key
   */
  CompletionStage<Fmr> allocFmr(int access, int maxPages);

  /**
   * Creates an address handle ({@code rdma_create_ah} without the sleepable flag): the path to a remote
   * port, for UD work requests. <b>Never blocks; callable from any thread and any context</b>,
   * completion and event handlers included.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the attributes do not fit the device (port, GID
   *     index, GRH)
   */
  AddressHandle createAh(AhAttr attr);

  /**
   * Creates a queue pair in this PD ({@code ib_create_qp}) in state RESET. The capabilities are checked
   * against the device's limits. <b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException for a missing CQ, a CQ of another device, or
   *     capabilities out of range
   * @throws dev.midlayer.spi.MissingDriverOpException if the device's driver has no create_qp
   */
  CompletionStage<QueuePair> createQp(QpInitAttr init);

  /**
   * Creates a shared receive queue in this PD ({@code ib_create_srq}). <b>May sleep</b>: not from atomic
   * context.
   *
   * @param eventHandler receives SRQ_LIMIT_REACHED and SRQ_ERR, or null
   * @throws dev.midlayer.ib.InvalidArgumentException if maxWr, maxSge or the limit are out of range
   */
  CompletionStage<SharedReceiveQueue> createSrq(SrqAttr attr, EventHandler eventHandler, Object context);

  /**
   * Deallocates the PD ({@code ib_dealloc_pd}). <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link ResourceBusyException} while objects still use the PD, and
   *     with {@link dev.midlayer.registry.NotRegisteredException} if it was deallocated already
   */
  CompletionStage<Done> dealloc();
}
