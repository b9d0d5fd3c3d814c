package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A memory region ({@code struct ib_mr}): bytes that work requests may read and write, addressed by I/O
 * virtual address (unsigned 64-bit) and protected by keys: the {@link #lkey()} for local SGEs, the
 * {@link #rkey()} (non-zero only if a remote right was granted) for peers. Each key is 24 bits of index
 * and 8 bits of variant; a region that is deregistered, invalidated or remapped changes or drops its key,
 * and a key is handed out again only after tens of thousands of uses of its slot, so a stale key does not
 * work again.
 *
 * <p>Three kinds, one type each ({@link #type()}):
 * <ul>
 *   <li>{@link User} ({@link ProtectionDomain#registerMr}): one {@link ByteBuffer}, iova {@link #iova()} to
 *       {@code iova() + length() - 1}, VALID until deregistered. Its pages ({@link #page(int)}) are what fast
 *       registration and FMRs map.
 *   <li>{@link FastReg} ({@link ProtectionDomain#allocMr}): fast registration (FRWR). It starts FREE. Per
 *       I/O: {@link #updateFastRegKey} (a new key variant, so stale rkeys fail), {@link #mapPages} (the page
 *       list), then post a {@link dev.midlayer.ib.WrOpcode#REG_MR} ({@link SendWr.Builder#reg}) which makes it
 *       VALID with the key and rights of the request; a {@link dev.midlayer.ib.WrOpcode#LOCAL_INV} or a
 *       peer's {@link dev.midlayer.ib.WrOpcode#SEND_WITH_INV} of its key makes it FREE again. A REG_MR that
 *       cannot execute completes with {@link dev.midlayer.ib.WcStatus#LOC_QP_OP_ERR} and moves the QP to
 *       ERR, as in rxe: the region is VALID already, is of another PD than the QP, had no page list when
 *       the REG_MR was posted, or the key's upper 24 bits are not the region's.
 *   <li>{@link FmrBacked}: the region behind an {@link Fmr}, mapped and unmapped by verbs.
 * </ul>
 * The methods of the other kinds are on every region and refuse the wrong kind with
 * {@link dev.midlayer.ib.InvalidArgumentException} (or {@link UnsupportedOperationException} for
 * {@link #buffer()}), so code written for any region can call them.
 *
 * <p>Threading: the getters, {@link #buffer()}, {@link #page(int)}, {@link #mapPages} and
 * {@link #updateFastRegKey} never block and may be called from any thread. {@link #deregister()} <b>may
 * sleep</b> (not from atomic context).
 */
public sealed interface MemoryRegion permits MemoryRegion.User, MemoryRegion.FastReg, MemoryRegion.FmrBacked {

  /** A region registered over one buffer ({@link MrType#USER}). */
  non-sealed interface User extends MemoryRegion {}

  /** A fast-registration region ({@link MrType#MEM_REG}). */
  non-sealed interface FastReg extends MemoryRegion {}

  /** The region behind an {@link Fmr} ({@link MrType#FMR}). */
  non-sealed interface FmrBacked extends MemoryRegion {}

  /** The protection domain. */
  ProtectionDomain pd();

  /** The device. */
  default Device device() {
    return pd().device();
  }

  /** How the region was made. */
  MrType type();

  /**
   * The first I/O virtual address: fixed for {@link MrType#USER}; for {@link MrType#MEM_REG} the one given
   * to the last {@link #mapPages} (0 before), as {@code ib_map_mr_sg} sets {@code mr->iova}.
   */
  long iova();

  /** Length in bytes: of the buffer ({@link MrType#USER}) or of the last {@link #mapPages} (0 before). */
  long length();

  /**
   * The {@link dev.midlayer.ib.AccessFlags} granted now (for {@link MrType#MEM_REG}: by the REG_MR that made
   * it VALID; 0 while FREE).
   */
  int access();

  /**
   * The local key: fixed for {@link MrType#USER}; for {@link MrType#MEM_REG} the consumer's key, which
   * {@link #updateFastRegKey} changes and a REG_MR posted with it makes the working one.
   */
  int lkey();

  /**
   * The remote key for peers: for {@link MrType#USER} 0 if no remote right was granted; for
   * {@link MrType#MEM_REG} equal to {@link #lkey()} (the REG_MR's rights decide whether peers may use it).
   */
  int rkey();

  /** The most pages {@link #mapPages} takes (0 for {@link MrType#USER}). */
  int maxPages();

  /**
   * True while its keys work: a {@link MrType#USER} region until deregistered, a {@link MrType#MEM_REG}
   * region between a REG_MR and its invalidation.
   */
  boolean isValid();

  /**
   * The registered bytes of a {@link MrType#USER} region: a view of the buffer given at registration,
   * position 0 at {@link #iova()}. Use absolute get/put, or a {@code duplicate()}, since the view is shared.
   *
   * @throws UnsupportedOperationException for a fast-registration region (its bytes are its pages)
   */
  ByteBuffer buffer();

  /** True if {@code [addr, addr + len)} lies inside the region's current VALID mapping. Never blocks; any thread. */
  boolean contains(long addr, long len);

  /** How many whole {@link Page}s a {@link MrType#USER} region has (0 for other kinds). */
  int pageCount();

  /**
   * Page {@code index} of a {@link MrType#USER} region: bytes {@code index * Page.SIZE} to
   * {@code (index + 1) * Page.SIZE - 1} of its buffer, for {@link #mapPages} and {@link Fmr#mapPhys}.
   * Never blocks; any thread.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the region is not USER, is read-only, was
   *     deregistered, or has no such whole page
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  Page page(int index);

  /**
   * Sets the page list of a {@link MrType#MEM_REG} region ({@code ib_map_mr_sg}): {@code length} bytes of
   * {@code pages} laid end to end, starting at the offset {@code iova % Page.SIZE} of the first page, and
   * addressed from {@code iova}. It takes effect with the next REG_MR posted on the region (the post takes
   * a snapshot, so mapping again afterwards does not change that request). Never blocks; any thread.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the region is not MEM_REG, a page is null or of
   *     another device, there are none or more than {@link #maxPages()}, or {@code length} is not 1 to what
   *     the pages hold after the offset (nor more than the device's {@code maxMrSize})
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  void mapPages(List<Page> pages, long iova, long length);

  /**
   * Changes the low 8 bits of a {@link MrType#MEM_REG} region's key ({@code ib_update_fast_reg_key}):
   * post the next REG_MR with the new {@link #rkey()}, and rkeys handed out before stop working once it
   * executes. Never blocks; any thread.
   *
   * @return the new key
   * @throws dev.midlayer.ib.InvalidArgumentException if the region is not MEM_REG
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  int updateFastRegKey(int key8);

  /**
   * Deregisters the region ({@code ib_dereg_mr}): its keys stop working at once for every later access,
   * and the stage completes once transfers that started before have finished with its memory.
   * <b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException for the region of an FMR (use {@link Fmr#dealloc()})
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if it was
   *     deregistered already
   */
  CompletionStage<Done> deregister();
}
