package dev.midlayer.verbs;

import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static dev.midlayer.testsupport.RegistryAwait.assertFailsWith;
import static dev.midlayer.testsupport.RegistryAwait.assertVerbFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.context.IllegalContextException;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.internal.verbs.KeyTable;
import dev.midlayer.internal.verbs.MrMapping;
import dev.midlayer.monitor.Check;
import dev.midlayer.registry.NotRegisteredException;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.testsupport.CqFixtures;
import dev.midlayer.testsupport.ExpectViolations;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Page-list memory regions without a data path (issue 4; reference 3.9, 3.10, 9.1): pages of USER regions,
 * fast-registration regions (allocMr, mapPages, updateFastRegKey), FMRs (allocFmr, mapPhys, unmap, dealloc)
 * and their keys, the maxMapPerFmr limit, concurrent maps, maps from handlers, usecounts, the new device
 * attributes, and reclaim at unregisterDevice. The REG_MR / LOCAL_INV work requests are the drivers' tests.
 */
class FastRegAndFmrVerbsTest {
  private static final int LW = AccessFlags.LOCAL_WRITE;
  private static final int RW = AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ;
  private static final AtomicInteger GUIDS = new AtomicInteger(0x500);

  private ActorTestKit kit;
  private Midlayer midlayer;

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("FastRegAndFmrVerbsTest");
    midlayer = Midlayer.get(kit.system());
  }

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  // ---- fixtures ----

  private Device register(VerbsTestDriver driver) {
    Device d = await(midlayer.registerDevice("frmr%d", driver.ops()));
    assertSame(d, driver.device());
    return d;
  }

  private Device register() {
    return register(new VerbsTestDriver());
  }

  /** A one-port InfiniBand device whose attributes the test shapes (e.g. maxMapPerFmr). */
  private Device registerWith(Function<DeviceAttributes.Builder, DeviceAttributes.Builder> shape) {
    long guid = 0x0002_c903_2000_0000L | GUIDS.getAndIncrement();
    DeviceAttributes attrs = shape.apply(DeviceAttributes.builder()
        .physPortCount(1).nodeGuid(guid).firmwareVersion("4.0.0")).build();
    AtomicReference<Device> enabled = new AtomicReference<>();
    DeviceOps ops = DeviceOps.builder("frmrdrv")
        .queryDevice(() -> attrs)
        .queryPort(p -> PortAttributes.builder().lid(p).gids(List.of(Gid.linkLocal(guid + p))).build())
        .enableDriver(dd -> enabled.set(Internal.handleOf(dd)))
        .deallocDriver(dev -> { })
        .build();
    Device d = await(midlayer.registerDevice("frmr%d", ops));
    assertSame(d, enabled.get());
    return d;
  }

  private static KeyTable keys(Device d) {
    return Internal.keys(d);
  }

  /** A page pool: a USER region of {@code pages} whole pages, LOCAL_WRITE, on a direct buffer. */
  private static MemoryRegion pool(ProtectionDomain pd, int pages) {
    return await(pd.registerMr(ByteBuffer.allocateDirect(pages * Page.SIZE), LW));
  }

  private static List<Page> pages(MemoryRegion pool, int... indexes) {
    List<Page> list = new ArrayList<>();
    for (int i : indexes) {
      list.add(pool.page(i));
    }
    return list;
  }

  private static Throwable catchAny(Runnable r) {
    try {
      r.run();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  // ---- Page ----

  @Test
  @DisplayName("Page: page(i) of a USER region is its 4096 bytes at i*4096 (shared, not copied); pageCount counts "
      + "whole pages only; page() refuses index -1 and pageCount, read-only, MEM_REG and deregistered regions "
      + "with InvalidArgumentException")
  void pagesOfUserRegions() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    // 10000 bytes starting at position 100 of the buffer: 2 whole pages, the rest is not a page.
    ByteBuffer backing = ByteBuffer.allocate(10100);
    backing.position(100);
    MemoryRegion mr = await(pd.registerMr(backing, LW));
    assertEquals(10000, mr.length());
    assertEquals(MrType.USER, mr.type());
    assertEquals(2, mr.pageCount(), "10000 bytes hold 2 whole pages");
    for (int i = 0; i < 2; i++) {
      Page p = mr.page(i);
      assertSame(mr, p.region());
      assertEquals(i, p.index());
      assertEquals(Page.SIZE, Internal.bytes(p).capacity(), "page " + i);
      assertEquals(Page.SIZE, Internal.bytes(p).remaining(), "page " + i);
      Internal.bytes(p).put(0, (byte) (0x10 + i));
      Internal.bytes(p).put(Page.SIZE - 1, (byte) (0x20 + i));
      assertEquals(0x10 + i, backing.get(100 + i * Page.SIZE), "page " + i + " first byte is shared");
      assertEquals(0x20 + i, backing.get(100 + (i + 1) * Page.SIZE - 1), "page " + i + " last byte is shared");
      assertEquals(0x10 + i, mr.buffer().get(i * Page.SIZE));
    }
    assertEquals(4096, Page.SIZE);
    assertEquals(3, pool(pd, 3).pageCount(), "exactly 3 pages");
    assertEquals(0, await(pd.registerMr(ByteBuffer.allocate(4095), LW)).pageCount(), "less than a page");
    assertEquals(1, await(pd.registerMr(ByteBuffer.allocate(8191), LW)).pageCount());

    assertThrows(InvalidArgumentException.class, () -> mr.page(-1), "index -1");
    assertThrows(InvalidArgumentException.class, () -> mr.page(2), "index == pageCount");
    assertThrows(InvalidArgumentException.class, () -> mr.page(Integer.MAX_VALUE), "huge index");
    MemoryRegion small = await(pd.registerMr(ByteBuffer.allocate(100), LW));
    assertThrows(InvalidArgumentException.class, () -> small.page(0), "no whole page");

    MemoryRegion readOnly = await(pd.registerMr(ByteBuffer.allocateDirect(2 * Page.SIZE).asReadOnlyBuffer(), 0));
    assertEquals(2, readOnly.pageCount());
    assertThrows(InvalidArgumentException.class, () -> readOnly.page(0), "read-only buffer");

    MemoryRegion memReg = await(pd.allocMr(4));
    assertEquals(0, memReg.pageCount(), "a MEM_REG region lends no pages");
    assertThrows(InvalidArgumentException.class, () -> memReg.page(0), "MEM_REG region");

    MemoryRegion gone = pool(pd, 2);
    Page before = gone.page(1);
    await(gone.deregister());
    assertThrows(InvalidArgumentException.class, () -> gone.page(0), "deregistered region");
    assertThrows(InvalidArgumentException.class, () -> gone.page(1), "deregistered region");
    assertSame(gone, before.region(), "a page taken before keeps its region");
  }

  // ---- allocMr ----

  @Test
  @DisplayName("allocMr (3.10): maxPages 0 and maxFastRegPageListLen+1 -> InvalidArgumentException(maxPages); a fresh "
      + "MEM_REG region is FREE: not valid, key does not resolve, lkey == rkey, access 0, no buffer")
  void allocMrGivesAFreeFastRegRegion() {
    Device d = register();
    assertEquals(512, d.attributes().maxFastRegPageListLen(), "builder default");
    ProtectionDomain pd = await(d.allocPd());
    for (int bad : new int[] {0, -1, 513, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
      InvalidArgumentException e = assertVerbFails(InvalidArgumentException.class, () -> pd.allocMr(bad));
      assertEquals("maxPages", e.field(), "maxPages " + bad);
    }
    assertEquals(0, pd.useCount(), "refused allocMr makes nothing");

    MemoryRegion one = await(pd.allocMr(1));
    MemoryRegion max = await(pd.allocMr(512));
    for (MemoryRegion mr : List.of(one, max)) {
      assertEquals(MrType.MEM_REG, mr.type());
      assertFalse(mr.isValid(), "FREE after alloc");
      assertNotEquals(0, mr.lkey());
      assertEquals(mr.lkey(), mr.rkey(), "MEM_REG: lkey == rkey");
      assertNull(keys(d).resolve(mr.lkey()), "a FREE region's key does not resolve");
      assertNull(keys(d).lookup(mr.lkey()));
      assertSame(mr, keys(d).slot(mr.lkey()), "but its slot is taken");
      assertEquals(0, mr.access());
      assertEquals(0, mr.iova());
      assertEquals(0, mr.length());
      assertFalse(mr.contains(0, 1));
      assertSame(pd, mr.pd());
      assertSame(d, mr.device());
      assertThrows(UnsupportedOperationException.class, mr::buffer);
    }
    assertEquals(1, one.maxPages());
    assertEquals(512, max.maxPages());
    assertNotEquals(one.lkey() >>> 8, max.lkey() >>> 8, "distinct key slots");
    assertEquals(2, pd.useCount());

    Device small = registerWith(b -> b.maxFastRegPageListLen(8));
    ProtectionDomain spd = await(small.allocPd());
    assertEquals(8, await(spd.allocMr(8)).maxPages());
    assertEquals("maxPages", assertVerbFails(InvalidArgumentException.class, () -> spd.allocMr(9)).field());
  }

  // ---- mapPages ----

  @Test
  @DisplayName("mapPages (3.10): null list, empty, > maxPages, null page, page of another device, length 0, length "
      + "beyond the pages after the iova offset, iova+length wrapping -> InvalidArgumentException with iova/length "
      + "unchanged; a good call sets iova and length; USER regions refuse mapPages")
  void mapPagesValidation() {
    Device d = register();
    Device other = register();
    ProtectionDomain pd = await(d.allocPd());
    ProtectionDomain otherPd = await(other.allocPd());
    MemoryRegion pool = pool(pd, 8);
    MemoryRegion otherPool = pool(otherPd, 2);
    MemoryRegion mr = await(pd.allocMr(3));

    mr.mapPages(pages(pool, 5, 2), 0x10000, 2 * Page.SIZE);
    assertEquals(0x10000, mr.iova());
    assertEquals(2 * Page.SIZE, mr.length());
    assertFalse(mr.isValid(), "mapPages stages; it does not make the region VALID");
    assertNull(keys(d).resolve(mr.lkey()));

    long offsetIova = 0x20000 + 100;
    Map<String, Runnable> bad = new LinkedHashMap<>();
    bad.put("null list", () -> mr.mapPages(null, 0x1000, 10));
    bad.put("empty list", () -> mr.mapPages(List.of(), 0x1000, 10));
    bad.put("4 pages > maxPages 3", () -> mr.mapPages(pages(pool, 0, 1, 2, 3), 0x1000, 10));
    bad.put("null page", () -> mr.mapPages(Arrays.asList(pool.page(0), null), 0x1000, 10));
    bad.put("page of another device", () -> mr.mapPages(List.of(pool.page(0), otherPool.page(0)), 0x1000, 10));
    bad.put("length 0", () -> mr.mapPages(pages(pool, 0), 0x1000, 0));
    bad.put("length -1", () -> mr.mapPages(pages(pool, 0), 0x1000, -1));
    bad.put("length one page + 1", () -> mr.mapPages(pages(pool, 0), 0x1000, Page.SIZE + 1));
    bad.put("length one byte too long after offset 100",
        () -> mr.mapPages(pages(pool, 0, 1), offsetIova, 2L * Page.SIZE - 100 + 1));
    bad.put("length 2 pages with offset 100", () -> mr.mapPages(pages(pool, 0, 1), offsetIova, 2L * Page.SIZE));
    bad.put("iova + length runs past 2^64", () -> mr.mapPages(pages(pool, 0, 1), -Page.SIZE, Page.SIZE + 10));
    for (Map.Entry<String, Runnable> e : bad.entrySet()) {
      assertInstanceOf(InvalidArgumentException.class, catchAny(e.getValue()), e.getKey());
      assertEquals(0x10000, mr.iova(), e.getKey() + ": iova unchanged");
      assertEquals(2 * Page.SIZE, mr.length(), e.getKey() + ": length unchanged");
    }

    mr.mapPages(pages(pool, 0, 1), offsetIova, 2L * Page.SIZE - 100);
    assertEquals(offsetIova, mr.iova(), "exactly what the pages hold after the offset");
    assertEquals(2L * Page.SIZE - 100, mr.length());
    mr.mapPages(pages(pool, 7, 6, 1), 0x3000, 1);
    assertEquals(0x3000, mr.iova(), "maxPages pages, one byte");
    assertEquals(1, mr.length());
    assertFalse(mr.isValid());

    MemoryRegion user = pool;
    assertInstanceOf(InvalidArgumentException.class,
        catchAny(() -> user.mapPages(pages(pool, 0), user.iova(), 10)), "mapPages on a USER region");
    assertInstanceOf(InvalidArgumentException.class, catchAny(() -> user.updateFastRegKey(3)),
        "updateFastRegKey on a USER region");
    assertEquals(8L * Page.SIZE, user.length(), "the USER region is unchanged");
  }

  @Test
  @DisplayName("mapPages / mapPhys: iova is a 64-bit address; a range crossing the top of the address space "
      + "(iova 0xffff_ffff_ffff_f000 + 2 pages) wraps and is refused; a range just below the top is fine")
  void rangesCrossingTheTopOfTheAddressSpaceAreRefused() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 4);
    MemoryRegion mr = await(pd.allocMr(4));
    long top = 0xffff_ffff_ffff_f000L;
    mr.mapPages(pages(pool, 0), top, Page.SIZE);
    assertEquals(top, mr.iova(), "the last page of the address space");
    assertInstanceOf(InvalidArgumentException.class,
        catchAny(() -> mr.mapPages(pages(pool, 0, 1), top, 2 * Page.SIZE)), "mapPages crossing 2^64");
    assertEquals(Page.SIZE, mr.length(), "unchanged");

    long below = 0x7fff_ffff_ffff_f000L; // crossing 2^63 is no wrap for an unsigned address
    mr.mapPages(pages(pool, 0, 1), below, 2 * Page.SIZE);
    assertEquals(below, mr.iova(), "a range across 2^63");

    Fmr fmr = await(pd.allocFmr(RW, 4));
    fmr.mapPhys(pages(pool, 2), top);
    assertInstanceOf(InvalidArgumentException.class,
        catchAny(() -> fmr.mapPhys(pages(pool, 2, 3), top)), "mapPhys crossing 2^64");
  }

  // ---- updateFastRegKey ----

  @Test
  @DisplayName("updateFastRegKey (3.10): replaces only the low 8 bits of the key (key8 & 0xff), keeps the slot "
      + "index, returns the new key, and lkey == rkey == it")
  void updateFastRegKeyChangesOnlyTheVariant() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = await(pd.allocMr(2));
    int original = mr.lkey();
    int index = KeyTable.index(original);
    for (int key8 : new int[] {0x00, 0x01, 0x7f, 0x80, 0xff, 0x1ab, -1, 0xffff_ff42, (original + 1) & 0xff}) {
      int k = mr.updateFastRegKey(key8);
      assertEquals((original & ~0xff) | (key8 & 0xff), k, String.format("key8 0x%x", key8));
      assertEquals(index, KeyTable.index(k), "the slot index stays");
      assertEquals(k, mr.lkey());
      assertEquals(k, mr.rkey());
      assertFalse(mr.isValid(), "still FREE");
      assertNull(keys(d).resolve(k));
    }
    assertSame(mr, keys(d).slot(mr.lkey()));
  }

  // ---- FMR ----

  @Test
  @DisplayName("allocFmr: invalid access (REMOTE_WRITE without LOCAL_WRITE, unknown bits) and maxPages out of "
      + "1..maxFastRegPageListLen -> InvalidArgumentException; a new FMR is unmapped with maxMaps 255")
  void allocFmrValidation() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    for (int access : new int[] {AccessFlags.REMOTE_WRITE, AccessFlags.REMOTE_ATOMIC | AccessFlags.REMOTE_READ,
        1 << 12, -1}) {
      InvalidArgumentException e = assertVerbFails(InvalidArgumentException.class, () -> pd.allocFmr(access, 4));
      assertEquals("access", e.field(), String.format("access 0x%x", access));
    }
    for (int maxPages : new int[] {0, -1, 513}) {
      InvalidArgumentException e = assertVerbFails(InvalidArgumentException.class, () -> pd.allocFmr(RW, maxPages));
      assertEquals("maxPages", e.field(), "maxPages " + maxPages);
    }
    assertEquals(0, pd.useCount());
    Fmr fmr = await(pd.allocFmr(RW, 512));
    assertEquals(512, fmr.maxPages());
    assertEquals(RW, fmr.access());
    assertEquals(255, fmr.maxMaps());
    assertFalse(fmr.isMapped());
    assertEquals(0, fmr.iova());
    assertEquals(0, fmr.length());
    assertNull(keys(d).resolve(fmr.lkey()), "an unmapped FMR's key does not resolve");
    assertSame(pd, fmr.pd());
    assertSame(d, fmr.device());
    assertEquals(1, pd.useCount(), "the FMR uses the PD");
  }

  @Test
  @DisplayName("mapPhys: maps pages*4096 - iova%4096 bytes at iova under a key that resolves (rkey == lkey with a "
      + "remote right, 0 without); a second map gives the next variant and the old key stops resolving")
  void mapPhysKeysAndRanges() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 8);

    Fmr remote = await(pd.allocFmr(RW, 4));
    int freeKey = remote.lkey();
    long iova = 0x40000 + 300;
    int k1 = remote.mapPhys(pages(pool, 3, 1), iova);
    assertEquals(keys(d).slotOf(freeKey), keys(d).slotOf(k1), "same slot");
    assertEquals((freeKey + 1) & 0xff, k1 & 0xff, "the variant advanced by one");
    assertEquals(k1, remote.lkey());
    assertEquals(k1, remote.rkey(), "remote rights: rkey == lkey");
    assertTrue(remote.isMapped());
    assertEquals(iova, remote.iova());
    assertEquals(2L * Page.SIZE - 300, remote.length());
    MrMapping m1 = keys(d).resolve(k1);
    assertNotNull(m1, "the new key resolves");
    assertEquals(iova, m1.iova());
    assertEquals(2L * Page.SIZE - 300, m1.length());
    assertEquals(RW, m1.access());
    assertEquals(k1, m1.lkey());
    assertEquals(k1, m1.rkey());
    assertSame(pd, m1.pd());
    assertEquals(MrType.FMR, m1.region().type());
    assertTrue(m1.contains(iova, 2L * Page.SIZE - 300));
    assertFalse(m1.contains(iova - 1, 1));
    assertFalse(m1.contains(iova, 2L * Page.SIZE - 299));

    int k2 = remote.mapPhys(pages(pool, 0, 1, 2), 0x80000);
    assertNotEquals(k1, k2);
    assertEquals(keys(d).slotOf(k1), keys(d).slotOf(k2));
    assertEquals((k1 + 1) & 0xff, k2 & 0xff);
    assertNull(keys(d).resolve(k1), "the old key stops resolving at once");
    assertNull(keys(d).lookup(k1));
    MrMapping m2 = keys(d).resolve(k2);
    assertNotNull(m2);
    assertEquals(0x80000, m2.iova());
    assertEquals(3L * Page.SIZE, m2.length(), "page-aligned iova: whole pages");
    assertEquals(0x80000, remote.iova());
    assertEquals(3L * Page.SIZE, remote.length());

    Fmr local = await(pd.allocFmr(LW, 2));
    int lk = local.mapPhys(pages(pool, 4), 0x1000 + 4095);
    assertEquals(lk, local.lkey());
    assertEquals(0, local.rkey(), "no remote right: rkey 0");
    MrMapping lm = keys(d).resolve(lk);
    assertNotNull(lm);
    assertEquals(0, lm.rkey());
    assertEquals(1, lm.length(), "offset 4095: one byte left in the page");
    assertEquals(LW, lm.access());

    Fmr readOnly = await(pd.allocFmr(AccessFlags.REMOTE_READ, 1));
    int rk = readOnly.mapPhys(pages(pool, 5), 0);
    assertEquals(rk, readOnly.rkey(), "REMOTE_READ alone is a remote right");
    assertNotNull(keys(d).resolve(rk));
  }

  @Test
  @DisplayName("mapPhys: null list, empty, > maxPages, null page, page of another device, wrapping iova -> "
      + "InvalidArgumentException; the current map and key are kept")
  void mapPhysValidation() {
    Device d = register();
    Device other = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 4);
    MemoryRegion otherPool = pool(await(other.allocPd()), 1);
    Fmr fmr = await(pd.allocFmr(RW, 2));
    int key = fmr.mapPhys(pages(pool, 0), 0x5000);
    Map<String, Runnable> bad = new LinkedHashMap<>();
    bad.put("null list", () -> fmr.mapPhys(null, 0x1000));
    bad.put("empty list", () -> fmr.mapPhys(List.of(), 0x1000));
    bad.put("3 pages > maxPages 2", () -> fmr.mapPhys(pages(pool, 0, 1, 2), 0x1000));
    bad.put("null page", () -> fmr.mapPhys(Arrays.asList(null, pool.page(1)), 0x1000));
    bad.put("page of another device", () -> fmr.mapPhys(List.of(otherPool.page(0)), 0x1000));
    bad.put("iova runs past 2^64", () -> fmr.mapPhys(pages(pool, 0, 1), -10));
    for (Map.Entry<String, Runnable> e : bad.entrySet()) {
      assertInstanceOf(InvalidArgumentException.class, catchAny(e.getValue()), e.getKey());
      assertEquals(key, fmr.lkey(), e.getKey() + ": key unchanged");
      assertEquals(0x5000, fmr.iova(), e.getKey());
      assertNotNull(keys(d).resolve(key), e.getKey() + ": the current map still works");
    }
  }

  @Test
  @DisplayName("mapPhys bytes: a put through the resolved MrMapping lands in the USER region's backing pages at "
      + "(iova%4096 + k) of the pages laid end to end, across a page boundary with pages out of order")
  void mapPhysBytesLandInThePages() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 4);
    Fmr fmr = await(pd.allocFmr(RW, 4));
    long iova = 0x7_0000 + 100;
    int key = fmr.mapPhys(pages(pool, 3, 1), iova); // page 3 first, then page 1
    MrMapping m = keys(d).resolve(key);
    assertNotNull(m);

    byte[] data = new byte[200];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i + 1);
    }
    // Mapped byte k (from iova) is byte 100 + k of [page 3, page 1]: k = 3900.. crosses into page 1.
    long at = iova + 3900;
    m.put(at, data, 0, data.length);
    ByteBuffer backing = pool.buffer();
    for (int i = 0; i < data.length; i++) {
      long pos = 100 + 3900 + i; // in the pages laid end to end
      int expected = pos < Page.SIZE ? 3 * Page.SIZE + (int) pos : Page.SIZE + (int) (pos - Page.SIZE);
      assertEquals(data[i], backing.get(expected), "byte " + i);
    }
    assertEquals(0, backing.get(3 * Page.SIZE + 3999), "nothing before the write");
    assertEquals(0, backing.get(Page.SIZE + 104), "nothing after the write");
    for (int p : new int[] {0, 2}) {
      for (int i = 0; i < Page.SIZE; i++) {
        assertEquals(0, backing.get(p * Page.SIZE + i), "unmapped page " + p + " untouched at " + i);
      }
    }
    // First and last mapped bytes, and a read back.
    m.put(iova, new byte[] {(byte) 0xa1}, 0, 1);
    m.put(iova + m.length() - 1, new byte[] {(byte) 0xb2}, 0, 1);
    assertEquals((byte) 0xa1, backing.get(3 * Page.SIZE + 100));
    assertEquals((byte) 0xb2, backing.get(2 * Page.SIZE - 1));
    byte[] back = new byte[data.length];
    m.get(at, back, 0, back.length);
    assertTrue(Arrays.equals(data, back), "read back across the boundary");
    // The other direction: bytes written into the pool appear through the mapping.
    backing.put(Page.SIZE + 2000, (byte) 0x5c);
    byte[] one = new byte[1];
    m.get(iova + (Page.SIZE - 100) + 2000, one, 0, 1);
    assertEquals(0x5c, one[0]);
  }

  @Test
  @DisplayName("maxMapPerFmr (default 255): 255 maps succeed with distinct keys, the 256th -> InvalidArgumentException; "
      + "after unmap no key of the FMR resolves, the key slot changed, and maps work again")
  void fmrMaxMapsDefault() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 2);
    Fmr fmr = await(pd.allocFmr(RW, 2));
    assertEquals(255, fmr.maxMaps());
    int slot = keys(d).slotOf(fmr.lkey());
    Set<Integer> cycle1 = new HashSet<>();
    for (int i = 0; i < 255; i++) {
      int k = fmr.mapPhys(pages(pool, i % 2), 0x1000L * i);
      assertTrue(cycle1.add(k), "map " + i + ": key repeated within one unmap cycle");
      assertEquals(slot, keys(d).slotOf(k));
      assertNotNull(keys(d).resolve(k), "map " + i);
    }
    int last = fmr.lkey();
    assertThrows(InvalidArgumentException.class, () -> fmr.mapPhys(pages(pool, 0), 0), "map 256");
    assertEquals(last, fmr.lkey(), "the refused map changed nothing");
    assertNotNull(keys(d).resolve(last), "the refused map changed nothing");

    await(fmr.unmap());
    assertFalse(fmr.isMapped());
    assertEquals(0, fmr.iova());
    assertEquals(0, fmr.length());
    for (int k : cycle1) {
      assertNull(keys(d).resolve(k), String.format("key 0x%08x after unmap", k));
    }
    assertNotEquals(slot, keys(d).slotOf(fmr.lkey()), "unmap moves the FMR to a fresh key slot");
    int slot2 = keys(d).slotOf(fmr.lkey());

    Set<Integer> cycle2 = new HashSet<>();
    for (int i = 0; i < 255; i++) {
      int k = fmr.mapPhys(pages(pool, 1), 0x2000);
      assertTrue(cycle2.add(k), "cycle 2 map " + i + ": key repeated");
      assertFalse(cycle1.contains(k), "cycle 2 map " + i + ": a key of cycle 1 came back");
      assertEquals(slot2, keys(d).slotOf(k));
    }
    assertThrows(InvalidArgumentException.class, () -> fmr.mapPhys(pages(pool, 0), 0), "cycle 2 map 256");
    // A region taking the freed slot does not bring back any of the FMR's keys.
    MemoryRegion next = await(pd.registerMr(ByteBuffer.allocate(64), AccessFlags.REMOTE_READ));
    assertFalse(cycle1.contains(next.lkey()), String.format("new region's key 0x%08x was an FMR key", next.lkey()));
    assertFalse(cycle2.contains(next.lkey()));
  }

  @Test
  @DisplayName("maxMapPerFmr (device attribute 3): maxMaps() is 3, the 4th map -> InvalidArgumentException; unmap "
      + "resets the count, and unmapping an unmapped FMR is harmless")
  void fmrMaxMapsFromTheDevice() {
    Device d = registerWith(b -> b.maxMapPerFmr(3));
    assertEquals(3, d.attributes().maxMapPerFmr());
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 1);
    Fmr fmr = await(pd.allocFmr(LW, 1));
    assertEquals(3, fmr.maxMaps());
    List<Integer> all = new ArrayList<>();
    for (int cycle = 0; cycle < 4; cycle++) {
      int before = keys(d).slotOf(fmr.lkey());
      for (int i = 0; i < 3; i++) {
        int k = fmr.mapPhys(pages(pool, 0), 0x1000);
        assertFalse(all.contains(k), "cycle " + cycle + " map " + i + ": key repeated");
        all.add(k);
      }
      int last = fmr.lkey();
      InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
          () -> fmr.mapPhys(pages(pool, 0), 0x1000), "cycle " + cycle + " map 4");
      assertNotNull(e.getMessage());
      assertNotNull(keys(d).resolve(last));
      await(fmr.unmap());
      assertNull(keys(d).resolve(last));
      assertNotEquals(before, keys(d).slotOf(fmr.lkey()), "cycle " + cycle + ": fresh slot");
    }
    await(fmr.unmap()); // unmapped already
    assertFalse(fmr.isMapped());
    for (int k : all) {
      assertNull(keys(d).resolve(k));
    }
    assertNotNull(keys(d).resolve(fmr.mapPhys(pages(pool, 0), 0)));
  }

  @Test
  @DisplayName("unmap on a device with no free key slot keeps the FMR in its slot, resets its map count, and "
      + "its keys go on without repeating")
  void unmapWithoutAFreeSlot() {
    Device d = registerWith(b -> b.maxMr(2).maxMapPerFmr(3));
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 1); // slot 1; the FMR takes slot 2, the last one
    Fmr fmr = await(pd.allocFmr(LW, 1));
    int slot = keys(d).slotOf(fmr.lkey());
    List<Integer> all = new ArrayList<>();
    for (int cycle = 0; cycle < 100; cycle++) { // 300 maps: past a variant wrap of the slot
      for (int i = 0; i < 3; i++) {
        int k = fmr.mapPhys(pages(pool, 0), 0x1000);
        assertFalse(all.contains(k), "cycle " + cycle + " map " + i + ": key repeated");
        all.add(k);
      }
      await(fmr.unmap());
      assertEquals(slot, keys(d).slotOf(fmr.lkey()), "no free slot to move to");
      for (int k : all.subList(all.size() - 3, all.size())) {
        assertNull(keys(d).resolve(k));
      }
    }
  }

  @Test
  @DisplayName("mapPhys concurrency: 8 threads x 30 maps on one FMR: all 240 keys distinct, and afterwards only "
      + "the FMR's current lkey resolves")
  void concurrentMapsGiveDistinctKeys() throws Exception {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 8);
    Fmr fmr = await(pd.allocFmr(RW, 2));
    int start = fmr.lkey();
    Set<Integer> seen = ConcurrentHashMap.newKeySet();
    AtomicInteger duplicates = new AtomicInteger();
    CqFixtures.Workers w = CqFixtures.Workers.start("fmr-map", 8, t -> {
      for (int i = 0; i < 30; i++) {
        int k = fmr.mapPhys(pages(pool, t, (t + 1) % 8), 0x10000L * t + i);
        if (!seen.add(k)) {
          duplicates.incrementAndGet();
        }
      }
    });
    CqFixtures.Workers.go(w);
    w.join(CqFixtures.TIMEOUT);
    assertEquals(0, duplicates.get(), "keys returned twice");
    assertEquals(240, seen.size());
    int current = fmr.lkey();
    assertTrue(seen.contains(current), "the current key is one that was returned");
    assertEquals((start + 240) & 0xff, current & 0xff, "240 maps moved the variant by 240");
    assertNotNull(keys(d).resolve(current));
    int resolving = 0;
    for (int k : seen) {
      if (keys(d).resolve(k) != null) {
        resolving++;
        assertEquals(current, k, String.format("stale key 0x%08x resolves", k));
      }
    }
    assertEquals(1, resolving);
    assertThrows(InvalidArgumentException.class, () -> {
      for (int i = 0; i < 16; i++) {
        fmr.mapPhys(pages(pool, 0), 0);
      }
    }, "240 + 15 maps are allowed, the 256th is not");
  }

  // ---- context ----

  /** In a handler: mapPhys and createAh must work; allocFmr, unmap and dealloc must be refused. */
  private static Map<String, Object> fmrVerbsInCallback(ProtectionDomain pd, Fmr fmr, List<Page> pages) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("atomic", AtomicContext.isAtomic());
    try {
      r.put("mapPhys", fmr.mapPhys(pages, 0x9000));
    } catch (Throwable t) {
      r.put("mapPhys", t);
    }
    try {
      AddressHandle ah = pd.createAh(AhAttr.ofLid(1, 7));
      ah.destroy();
      r.put("createAh", "ok");
    } catch (Throwable t) {
      r.put("createAh", t);
    }
    r.put("allocFmr", attempt(() -> pd.allocFmr(LW, 1)));
    r.put("unmapFmr", attempt(fmr::unmap));
    r.put("deallocFmr", attempt(fmr::dealloc));
    return r;
  }

  private static Object attempt(java.util.function.Supplier<? extends java.util.concurrent.CompletionStage<?>> verb) {
    try {
      verb.get();
      return "not refused";
    } catch (Throwable t) {
      return t;
    }
  }

  private static void assertFmrVerbsInCallback(Map<String, Object> r, ProtectionDomain pd, Fmr fmr) {
    assertEquals(Boolean.TRUE, r.get("atomic"), "the callback runs in atomic context");
    Integer key = assertInstanceOf(Integer.class, r.get("mapPhys"), "mapPhys in the handler");
    assertEquals(key, fmr.lkey());
    MrMapping m = keys(pd.device()).resolve(key);
    assertNotNull(m, "the key mapped in the handler resolves");
    assertEquals(0x9000, m.iova());
    assertEquals("ok", r.get("createAh"), "createAh in the handler");
    for (String verb : List.of("allocFmr", "unmapFmr", "deallocFmr")) {
      IllegalContextException e = assertInstanceOf(IllegalContextException.class, r.get(verb), verb);
      assertEquals(verb, e.verb());
    }
    assertEquals(2, pd.useCount(), "the pool and the FMR only: no FMR was allocated, nothing destroyed");
    assertTrue(fmr.isMapped(), "the refused unmap did nothing");
  }

  @Test
  @DisplayName("context (9.1): mapPhys and createAh work inside a CQ completion handler; allocFmr, unmap and dealloc "
      + "there fail with IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void mapPhysWorksInACompletionHandler() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 2);
    Fmr fmr = await(pd.allocFmr(RW, 2));
    int before = fmr.mapPhys(pages(pool, 0), 0x1000);
    List<Page> pages = pages(pool, 1, 0);
    CompletableFuture<Map<String, Object>> result = new CompletableFuture<>();
    CompletionQueue cq = await(d.createCq(8, c -> result.complete(fmrVerbsInCallback(pd, fmr, pages)), null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    assertFmrVerbsInCallback(await(result), pd, fmr);
    assertNull(keys(d).resolve(before), "the map in the handler replaced the earlier key");
  }

  @Test
  @DisplayName("context (9.1): mapPhys and createAh work inside an async event handler; allocFmr, unmap and dealloc "
      + "there fail with IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void mapPhysWorksInAnEventHandler() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 2);
    Fmr fmr = await(pd.allocFmr(LW, 2));
    List<Page> pages = pages(pool, 1);
    CompletableFuture<Map<String, Object>> result = new CompletableFuture<>();
    await(d.registerEventHandler("fmr-in-handler", e -> result.complete(fmrVerbsInCallback(pd, fmr, pages))));
    Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.SM_CHANGE, 1));
    assertFmrVerbsInCallback(await(result), pd, fmr);
  }

  // ---- dealloc, deregister, usecounts ----

  @Test
  @DisplayName("Fmr.dealloc: the key stops resolving, mapPhys -> ObjectDestroyedException, a second dealloc -> "
      + "NotRegisteredException; an FMR's region cannot be deregistered as an MR")
  void fmrDealloc() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 1);
    Fmr fmr = await(pd.allocFmr(RW, 1));
    int key = fmr.mapPhys(pages(pool, 0), 0x1000);
    MrMapping m = keys(d).resolve(key);
    assertNotNull(m);
    assertInstanceOf(InvalidArgumentException.class, catchAny(() -> m.region().deregister()),
        "the FMR's region is freed with Fmr.dealloc");
    assertNotNull(keys(d).resolve(key), "still mapped");
    assertEquals(2, pd.useCount());
    await(fmr.dealloc());
    assertNull(keys(d).resolve(key), "the key after dealloc");
    assertNull(keys(d).lookup(key));
    assertFalse(fmr.isMapped());
    assertEquals(1, pd.useCount(), "the FMR released the PD");
    assertThrows(ObjectDestroyedException.class, () -> fmr.mapPhys(pages(pool, 0), 0x1000));
    assertNull(keys(d).resolve(key), "the refused map did not come back");
    NotRegisteredException twice = assertFailsWith(NotRegisteredException.class, fmr.dealloc());
    assertTrue(twice.getMessage().contains("deallocFmr"), twice.getMessage());
    assertEquals(1, pd.useCount(), "the failed dealloc did not release the PD again");

    Fmr unmapped = await(pd.allocFmr(LW, 1));
    await(unmapped.dealloc());
    assertThrows(ObjectDestroyedException.class, () -> unmapped.mapPhys(pages(pool, 0), 0));
  }

  @Test
  @DisplayName("deregister of a MEM_REG region (FREE or VALID) works once; its key never resolves again, also "
      + "after a new region takes the slot; a second deregister -> NotRegisteredException")
  void deregisterMemRegRegion() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 2);

    MemoryRegion free = await(pd.allocMr(2));
    await(free.deregister());
    assertFalse(free.isValid());
    assertNull(keys(d).slot(free.lkey()), "the slot was freed");
    NotRegisteredException twice = assertFailsWith(NotRegisteredException.class, free.deregister());
    assertTrue(twice.getMessage().contains("deregisterMr"), twice.getMessage());

    // VALID through the driver's REG_MR step (MemoryRegion.fastRegister, what a driver calls).
    MemoryRegion mr = await(pd.allocMr(2));
    int key = mr.updateFastRegKey(mr.lkey() + 1);
    mr.mapPages(pages(pool, 1, 0), 0x3000, 2 * Page.SIZE);
    assertNull(Internal.fastRegister(mr, key, RW, pd));
    assertTrue(mr.isValid());
    assertEquals(RW, mr.access());
    assertSame(mr, keys(d).lookup(key), "VALID: the key resolves");
    assertEquals(2, pd.useCount(), "the pool and the region");
    await(mr.deregister());
    assertFalse(mr.isValid());
    assertNull(keys(d).resolve(key), "after deregister");
    assertEquals(1, pd.useCount(), "the deregistered region released the PD");
    List<Integer> stale = new ArrayList<>(List.of(key));
    for (int round = 0; round < 20; round++) {
      MemoryRegion next = await(pd.allocMr(1));
      int k = next.updateFastRegKey(next.lkey());
      next.mapPages(pages(pool, 0), 0x8000, 10);
      assertNull(Internal.fastRegister(next, k, RW, pd));
      assertFalse(stale.contains(k), String.format("round %d: key 0x%08x came back", round, k));
      for (int s : stale) {
        assertNull(keys(d).resolve(s), String.format("round %d: stale key 0x%08x resolves", round, s));
      }
      await(next.deregister());
      stale.add(k);
    }
  }

  @Test
  @DisplayName("usecount (3.1): PD dealloc -> ResourceBusyException while an FMR or a MEM_REG region exists; it "
      + "succeeds once they are gone")
  void pdDeallocIsBusyWhileFmrOrMemRegExists() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    Fmr fmr = await(pd.allocFmr(LW, 2));
    assertEquals(1, pd.useCount());
    assertFailsWith(ResourceBusyException.class, pd.dealloc());
    await(fmr.dealloc());
    assertEquals(0, pd.useCount());
    await(pd.dealloc());

    ProtectionDomain pd2 = await(d.allocPd());
    MemoryRegion mr = await(pd2.allocMr(4));
    assertEquals(1, pd2.useCount());
    assertFailsWith(ResourceBusyException.class, pd2.dealloc());
    await(mr.deregister());
    await(pd2.dealloc());

    ProtectionDomain pd3 = await(d.allocPd());
    MemoryRegion pool = pool(pd3, 1);
    Fmr mapped = await(pd3.allocFmr(RW, 1));
    mapped.mapPhys(pages(pool, 0), 0);
    await(pool.deregister());
    assertFailsWith(ResourceBusyException.class, pd3.dealloc()); // a mapped FMR keeps it busy
    await(mapped.unmap());
    assertFailsWith(ResourceBusyException.class, pd3.dealloc()); // an unmapped FMR too
    await(mapped.dealloc());
    await(pd3.dealloc());
  }

  // ---- device attributes ----

  @Test
  @DisplayName("DeviceAttributes: maxMapPerFmr 0 and 256 refused, 1 and 255 fine; pageSizeCap without 4096 refused; "
      + "maxFastRegPageListLen 0 refused; defaults 255 and 512")
  void deviceAttributesValidation() {
    DeviceAttributes defaults = DeviceAttributes.builder().build();
    assertEquals(255, defaults.maxMapPerFmr());
    assertEquals(512, defaults.maxFastRegPageListLen());
    assertTrue((defaults.pageSizeCap() & Page.SIZE) != 0);
    for (int bad : new int[] {0, -1, 256, Integer.MAX_VALUE}) {
      InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
          () -> DeviceAttributes.builder().maxMapPerFmr(bad).build(), "maxMapPerFmr " + bad);
      assertEquals("maxMapPerFmr", e.field());
    }
    assertEquals(1, DeviceAttributes.builder().maxMapPerFmr(1).build().maxMapPerFmr());
    assertEquals(255, DeviceAttributes.builder().maxMapPerFmr(255).build().maxMapPerFmr());
    for (long bad : new long[] {0, 2048, 8192, 2048 | 8192 | (1L << 21), ~4096L}) {
      InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
          () -> DeviceAttributes.builder().pageSizeCap(bad).build(), String.format("pageSizeCap 0x%x", bad));
      assertEquals("pageSizeCap", e.field());
    }
    assertEquals(4096 | (1L << 21), DeviceAttributes.builder().pageSizeCap(4096 | (1L << 21)).build().pageSizeCap());
    for (int bad : new int[] {0, -1}) {
      InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
          () -> DeviceAttributes.builder().maxFastRegPageListLen(bad).build(), "maxFastRegPageListLen " + bad);
      assertEquals("maxFastRegPageListLen", e.field());
    }
    assertEquals(1, DeviceAttributes.builder().maxFastRegPageListLen(1).build().maxFastRegPageListLen());
  }

  // ---- unregisterDevice ----

  @Test
  @DisplayName("reclaim (I4): FMRs (mapped or not) and MEM_REG regions (FREE or VALID) left at unregisterDevice are "
      + "reclaimed with a warning each; their keys stop resolving and mapPhys then fails")
  void leftoverFmrsAndMemRegRegionsAreReclaimed() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion pool = pool(pd, 2);
    Fmr mapped = await(pd.allocFmr(RW, 2));
    int fmrKey = mapped.mapPhys(pages(pool, 1, 0), 0x4000);
    Fmr unmapped = await(pd.allocFmr(LW, 1));
    MemoryRegion freeReg = await(pd.allocMr(2));
    MemoryRegion validReg = await(pd.allocMr(2));
    validReg.mapPages(pages(pool, 0), 0x6000, 100);
    assertNull(Internal.fastRegister(validReg, validReg.lkey(), RW, validReg.pd()));
    int unmappedKey = unmapped.lkey();
    List<Page> taken = pages(pool, 0); // pages taken before: the pool itself is reclaimed too
    KeyTable keys = keys(d);
    assertSame(unmapped.pd(), pd);
    assertNotNull(keys.slot(unmappedKey));
    assertNotNull(keys.resolve(fmrKey));
    assertNotNull(keys.resolve(validReg.lkey()));
    assertEquals(5, pd.useCount());
    String left = " on " + d.name() + " was left after every client's remove: reclaimed";
    LoggingTestKit.warn(Internal.describe(mapped) + left).expect(kit.system(),
        () -> LoggingTestKit.warn(Internal.describe(validReg) + left).expect(kit.system(),
            () -> await(midlayer.unregisterDevice(d))));
    assertNull(keys.resolve(fmrKey), "mapped FMR's key");
    assertNull(keys.resolve(validReg.lkey()), "VALID MEM_REG key");
    assertNull(keys.slot(fmrKey), "slots freed");
    assertNull(keys.slot(validReg.lkey()));
    assertNull(keys.slot(freeReg.lkey()));
    assertNull(keys.slot(unmappedKey));
    assertFalse(mapped.isMapped());
    assertFalse(validReg.isValid());
    assertEquals(0, pd.useCount());
    assertThrows(DeviceUnregisteredException.class, () -> mapped.mapPhys(taken, 0));
    assertThrows(DeviceUnregisteredException.class, () -> pool.page(0), "the reclaimed pool lends no pages");
    assertVerbFails(DeviceUnregisteredException.class, () -> pd.allocFmr(LW, 1));
    assertVerbFails(DeviceUnregisteredException.class, () -> pd.allocMr(1));
  }
}
