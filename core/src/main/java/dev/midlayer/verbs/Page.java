package dev.midlayer.verbs;

import dev.midlayer.ib.DeviceAttributes;

/**
 * A page of registered memory: {@link #SIZE} bytes at a page-aligned offset of a memory region registered
 * with {@link ProtectionDomain#registerMr}. Pages are what fast registration ({@link MemoryRegion#mapPages})
 * and FMRs ({@link Fmr#mapPhys}) map: the JVM's stand-in for the physical pages a kernel ULP hands to
 * {@code ib_map_mr_sg} and {@code ib_map_phys_fmr}.
 *
 * <p>How a ULP gets pages: register one large buffer once (a page pool, usually without remote rights) and
 * take {@link MemoryRegion#page(int)} for page 0 to {@link MemoryRegion#pageCount()} - 1. A mapping shares
 * the bytes of its pages (no copy). Like physical pages in the kernel, the ULP owns them: deregistering the
 * pool does not take pages away from mappings already made, and a ULP must not reuse a page while a
 * mapping of it is VALID.
 *
 * <p>When a page may be reused: the may-sleep verbs that kill a key ({@link MemoryRegion#deregister},
 * {@link Fmr#unmap}, {@link Fmr#dealloc}) complete only once no transfer touches the old pages any more
 * (the driver's memory fence, like the DMA wait inside {@code dereg_mr}). The non-sleeping ways (a
 * LOCAL_INV or SEND_WITH_INV completing, an FMR remap) stop every access that resolves the key afterwards,
 * but a transfer on another QP that resolved it just before may still be copying, as a DMA in flight
 * would: after those, reuse a page once the peer's operations on it are known to be done, which is what
 * the usual protocols give (the peer's SEND_WITH_INV comes after its RDMA WRITE on the same QP).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public interface Page {
  /** The page size of the midlayer: 4 KiB, the same on every device. */
  int SIZE = DeviceAttributes.PAGE_SIZE;

  /** The registered region the page belongs to. */
  MemoryRegion region();

  /** The page's number in its region (its offset is {@code index * SIZE}). */
  int index();
}
