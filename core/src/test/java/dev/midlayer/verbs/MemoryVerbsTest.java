package dev.midlayer.verbs;

import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static dev.midlayer.testsupport.RegistryAwait.assertFailsWith;
import static dev.midlayer.testsupport.RegistryAwait.assertVerbFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.context.IllegalContextException;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.internal.verbs.KeyTable;
import dev.midlayer.internal.verbs.MrMapping;
import dev.midlayer.monitor.Check;
import dev.midlayer.registry.NotRegisteredException;
import dev.midlayer.testsupport.ExpectViolations;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Protection domains, memory regions and address handles (reference 3.1, 3.2, 3.9, 3.12, 9.1): keys and
 * address ranges, access-flag validation, key invalidation and reuse, usecounts, AH validation against the
 * ports, which verbs work in atomic context, reclaim at unregisterDevice, and verbs after it.
 */
class MemoryVerbsTest {
  private static final int REMOTE = AccessFlags.REMOTE_READ | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC;

  private ActorTestKit kit;
  private Midlayer midlayer;

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("MemoryVerbsTest");
    midlayer = Midlayer.get(kit.system());
  }

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  private Device register(VerbsTestDriver driver) {
    Device d = await(midlayer.registerDevice("mem%d", driver.ops()));
    assertSame(d, driver.device());
    return d;
  }

  private Device register() {
    return register(new VerbsTestDriver());
  }

  private static KeyTable keys(Device d) {
    return Internal.keys(d);
  }

  private static MemoryRegion mr(ProtectionDomain pd, ByteBuffer buffer, int access) {
    return await(pd.registerMr(buffer, access));
  }

  // ---- PD ----

  @Test
  @DisplayName("PD (3.2): allocPd gives distinct PDs of the device with no users; dealloc works once, a second "
      + "dealloc fails with NotRegisteredException")
  void allocPdAndDealloc() {
    Device d = register();
    ProtectionDomain a = await(d.allocPd());
    ProtectionDomain b = await(d.allocPd());
    assertSame(d, a.device());
    assertNotEquals(a.handle(), b.handle());
    assertEquals(0, a.useCount());
    assertTrue(Internal.describe(a).contains("PD #" + a.handle()), Internal.describe(a));
    await(a.dealloc());
    NotRegisteredException twice = assertFailsWith(NotRegisteredException.class, a.dealloc());
    assertTrue(twice.getMessage().contains("deallocPd"), twice.getMessage());
    await(b.dealloc());
  }

  // ---- MR: keys, iova, length, buffers ----

  @Test
  @DisplayName("MR (3.9): on direct and heap buffers: lkey != 0 and resolves to the MR; rkey == lkey when a remote "
      + "right is granted, 0 otherwise; iova and length; the PD counts the MR")
  void registerMrOnDirectAndHeapBuffers() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    Map<String, MemoryRegion> regions = new LinkedHashMap<>();
    int[] accesses = {0, AccessFlags.LOCAL_WRITE, AccessFlags.REMOTE_READ, AccessFlags.MW_BIND,
        AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_ATOMIC,
        AccessFlags.ALL};
    for (boolean direct : new boolean[] {false, true}) {
      for (int access : accesses) {
        ByteBuffer buf = direct ? ByteBuffer.allocateDirect(4096) : ByteBuffer.allocate(4096);
        MemoryRegion mr = mr(pd, buf, access);
        String what = (direct ? "direct " : "heap ") + AccessFlags.toString(access);
        regions.put(what, mr);
        assertNotEquals(0, mr.lkey(), what);
        assertEquals((access & REMOTE) != 0 ? mr.lkey() : 0, mr.rkey(), what + ": rkey");
        assertEquals(access, mr.access(), what);
        assertEquals(4096, mr.length(), what);
        assertSame(pd, mr.pd());
        assertSame(d, mr.device());
        assertTrue(mr.isValid());
        assertEquals(direct, mr.buffer().isDirect(), what);
        assertSame(mr, keys(d).lookup(mr.lkey()), what + ": lkey resolves");
        if (mr.rkey() != 0) {
          assertSame(mr, keys(d).lookup(mr.rkey()), what + ": rkey resolves");
        }
      }
    }
    assertNull(keys(d).lookup(0), "key 0 never resolves");
    assertEquals(regions.size(), pd.useCount());
    // Distinct keys, non-overlapping address ranges.
    Set<Integer> lkeys = new HashSet<>();
    List<MemoryRegion> all = new ArrayList<>(regions.values());
    for (MemoryRegion mr : all) {
      assertTrue(lkeys.add(mr.lkey()), "duplicate lkey " + mr);
      for (MemoryRegion other : all) {
        if (other != mr) {
          assertFalse(other.contains(mr.iova(), 1), mr + " inside " + other);
        }
      }
    }
  }

  @Test
  @DisplayName("MR (3.9): a slice (position..limit) registers exactly those bytes and shares them with the "
      + "buffer; later changes of the buffer's position and limit do not matter")
  void registerMrOnSlices() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    ByteBuffer heap = ByteBuffer.allocate(1000);
    heap.position(100).limit(300);
    MemoryRegion h = mr(pd, heap, AccessFlags.LOCAL_WRITE);
    assertEquals(200, h.length());
    heap.clear(); // position 0, limit 1000
    assertEquals(200, h.length());
    h.buffer().put(0, (byte) 7);
    h.buffer().put(199, (byte) 9);
    assertEquals(7, heap.get(100), "the region shares the buffer's bytes");
    assertEquals(9, heap.get(299));
    heap.put(150, (byte) 5);
    assertEquals(5, h.buffer().get(50));

    ByteBuffer direct = ByteBuffer.allocateDirect(1024);
    ByteBuffer slice = direct.position(512).slice();
    MemoryRegion s = mr(pd, slice, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_READ);
    assertEquals(512, s.length());
    s.buffer().put(0, (byte) 42);
    assertEquals(42, direct.get(512));
    assertEquals(s.lkey(), s.rkey());

    ByteBuffer sliceOfSlice = ByteBuffer.allocate(64).position(8).slice().position(8).limit(24);
    MemoryRegion ss = mr(pd, sliceOfSlice, 0);
    assertEquals(16, ss.length());
    assertEquals(0, ss.rkey());
  }

  @Test
  @DisplayName("MR (3.9): contains(addr, len) is true at both ends of [iova, iova+length) and false one byte over "
      + "on either side")
  void containsAtBothEndsAndOneByteOver() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(256), AccessFlags.LOCAL_WRITE);
    long iova = mr.iova();
    long len = mr.length();
    assertTrue(mr.contains(iova, len), "the whole region");
    assertTrue(mr.contains(iova, 1), "first byte");
    assertTrue(mr.contains(iova + len - 1, 1), "last byte");
    assertTrue(mr.contains(iova + 1, len - 1), "all but the first");
    assertFalse(mr.contains(iova, len + 1), "one byte past the end");
    assertFalse(mr.contains(iova + len, 1), "first byte after the end");
    assertFalse(mr.contains(iova + len - 1, 2), "last byte and one over");
    assertFalse(mr.contains(iova - 1, 1), "byte before the start");
    assertFalse(mr.contains(iova - 1, len), "starting one byte early");
    assertFalse(mr.contains(iova + 1, len), "one byte late, one byte over");
    assertFalse(mr.contains(iova, -1), "negative length");
    assertFalse(mr.contains(iova, Long.MAX_VALUE), "huge length");
    assertFalse(mr.contains(Long.MAX_VALUE, 1), "huge address");
    assertFalse(mr.contains(Long.MIN_VALUE, 1), "negative address");
  }

  // ---- MR validation ----

  @Test
  @DisplayName("MR access (3.9): REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE and unknown bits -> "
      + "InvalidArgumentException(field access); local read is always allowed")
  void invalidAccessFlagsAreRejected() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    int[] bad = {AccessFlags.REMOTE_WRITE, AccessFlags.REMOTE_ATOMIC, AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ,
        AccessFlags.REMOTE_ATOMIC | AccessFlags.MW_BIND | AccessFlags.REMOTE_READ,
        AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC, 1 << 5, 1 << 6, 1 << 7, 1 << 31, -1,
        AccessFlags.LOCAL_WRITE | (1 << 12)};
    for (int access : bad) {
      InvalidArgumentException e = assertVerbFails(InvalidArgumentException.class,
          () -> pd.registerMr(ByteBuffer.allocate(64), access));
      assertEquals("access", e.field(), String.format("access 0x%x", access));
    }
    assertEquals(0, pd.useCount(), "no MR was made");
    MemoryRegion readOnlyRights = mr(pd, ByteBuffer.allocate(64), 0);
    assertEquals(0, readOnlyRights.rkey());
    MemoryRegion remoteRead = mr(pd, ByteBuffer.allocate(64), AccessFlags.REMOTE_READ);
    assertEquals(remoteRead.lkey(), remoteRead.rkey(), "REMOTE_READ needs no LOCAL_WRITE");
  }

  @Test
  @DisplayName("MR buffer (3.9): null, empty, longer than maxMrSize, or read-only with write access -> "
      + "InvalidArgumentException(field buffer); read-only with only read rights is fine")
  void badBuffersAreRejected() {
    Device d = register(new VerbsTestDriver().maxMrSize(1024));
    ProtectionDomain pd = await(d.allocPd());
    assertEquals("buffer", assertVerbFails(InvalidArgumentException.class,
        () -> pd.registerMr(null, 0)).field());
    assertEquals("buffer", assertVerbFails(InvalidArgumentException.class,
        () -> pd.registerMr(ByteBuffer.allocate(0), AccessFlags.LOCAL_WRITE)).field());
    assertEquals("buffer", assertVerbFails(InvalidArgumentException.class,
        () -> pd.registerMr(ByteBuffer.allocateDirect(64).position(64), 0)).field(), "position == limit");
    assertEquals("buffer", assertVerbFails(InvalidArgumentException.class,
        () -> pd.registerMr(ByteBuffer.allocate(1025), 0)).field(), "over maxMrSize");
    ByteBuffer ro = ByteBuffer.allocate(128).asReadOnlyBuffer();
    for (int write : new int[] {AccessFlags.LOCAL_WRITE, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE,
        AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_ATOMIC}) {
      InvalidArgumentException e = assertVerbFails(InvalidArgumentException.class, () -> pd.registerMr(ro, write));
      assertEquals("buffer", e.field(), AccessFlags.toString(write));
    }
    assertEquals(0, pd.useCount(), "no MR was made");
    assertEquals(1024, mr(pd, ByteBuffer.allocate(1024), 0).length(), "exactly maxMrSize is fine");
    MemoryRegion readOnly = mr(pd, ro, AccessFlags.REMOTE_READ);
    assertEquals(128, readOnly.length());
    assertEquals(readOnly.lkey(), readOnly.rkey());
    assertEquals(128, mr(pd, ByteBuffer.allocateDirect(128).asReadOnlyBuffer(), 0).length());
  }

  // ---- MR: deregister, key invalidation and reuse ----

  @Test
  @DisplayName("MR keys (3.9): a deregistered MR's keys stop resolving; a new registration reusing the slot gets a "
      + "different key (new variant), so the stale key still does not resolve")
  void deregisteredKeysStopResolvingAndReusedSlotsGetANewVariant() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion keep = mr(pd, ByteBuffer.allocate(64), AccessFlags.LOCAL_WRITE);
    MemoryRegion first = mr(pd, ByteBuffer.allocate(64), AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE);
    assertEquals(2, pd.useCount());
    await(first.deregister());
    assertFalse(first.isValid());
    assertEquals(1, pd.useCount());
    assertNull(keys(d).lookup(first.lkey()), "stale lkey");
    assertNull(keys(d).lookup(first.rkey()), "stale rkey");
    assertSame(keep, keys(d).lookup(keep.lkey()), "other MRs are not affected");

    List<Integer> stale = new ArrayList<>();
    stale.add(first.lkey());
    MemoryRegion previous = first;
    for (int round = 0; round < 50; round++) {
      MemoryRegion next = mr(pd, ByteBuffer.allocate(32), AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_READ);
      assertEquals(previous.lkey() >>> 8, next.lkey() >>> 8, "round " + round + ": the freed slot is reused");
      assertNotEquals(previous.lkey() & 0xff, next.lkey() & 0xff, "round " + round + ": the variant changed");
      assertFalse(stale.contains(next.lkey()), "round " + round + ": a key came back");
      assertSame(next, keys(d).lookup(next.lkey()));
      for (int key : stale) {
        assertNull(keys(d).lookup(key), String.format("stale key 0x%08x resolves", key));
      }
      await(next.deregister());
      stale.add(next.lkey());
      previous = next;
    }
    assertEquals(1, pd.useCount());
  }

  @Test
  @DisplayName("MR (3.9): deregistering twice fails with NotRegisteredException")
  void deregisterTwiceFails() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(64), 0);
    await(mr.deregister());
    NotRegisteredException e = assertFailsWith(NotRegisteredException.class, mr.deregister());
    assertTrue(e.getMessage().contains("deregisterMr"), e.getMessage());
    assertEquals(0, pd.useCount(), "the failed deregister did not release the PD again");
  }

  @Test
  @DisplayName("MR keys (3.9): with maxMr regions registered, the next registerMr fails with ResourceBusyException; "
      + "deregistering one makes a key free again")
  void registerMrBeyondMaxMrFailsWithResourceBusy() {
    Device d = register(new VerbsTestDriver().maxMr(3));
    ProtectionDomain pd = await(d.allocPd());
    List<MemoryRegion> mrs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      mrs.add(mr(pd, ByteBuffer.allocate(8), 0));
    }
    ResourceBusyException full = assertFailsWith(ResourceBusyException.class,
        pd.registerMr(ByteBuffer.allocate(8), 0));
    assertTrue(full.getMessage().contains("maxMr 3"), full.getMessage());
    assertEquals(3, pd.useCount(), "the refused registration does not count");
    await(mrs.get(1).deregister());
    MemoryRegion again = mr(pd, ByteBuffer.allocate(8), 0);
    assertSame(again, keys(d).lookup(again.lkey()));
    assertNull(keys(d).lookup(mrs.get(1).lkey()));
  }

  @Test
  @DisplayName("lifetime (3.1): registerMr and createAh on a deallocated PD fail")
  void deallocatedPdCannotBeUsed() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    await(pd.dealloc());
    Throwable mrResult = catchAny(() -> {
      CompletionStage<MemoryRegion> stage = pd.registerMr(ByteBuffer.allocate(8), 0);
      try {
        stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw new RuntimeException(e.getCause());
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    Throwable ahResult = catchAny(() -> pd.createAh(AhAttr.ofLid(1, 3)));
    assertTrue(mrResult != null, "registerMr on a deallocated PD succeeded");
    assertTrue(ahResult != null, "createAh on a deallocated PD succeeded");
    assertEquals(0, pd.useCount());
  }

  @Test
  @DisplayName("usecount (3.1): dealloc of a PD fails with ResourceBusyException while an MR or an AH uses it, and "
      + "succeeds once they are gone")
  void pdDeallocIsRefusedWhileInUse() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(64), AccessFlags.LOCAL_WRITE);
    AddressHandle ah = pd.createAh(AhAttr.ofLid(1, 3));
    assertSame(pd, ah.pd());
    assertEquals(2, pd.useCount());
    ResourceBusyException busy = assertFailsWith(ResourceBusyException.class, pd.dealloc());
    assertTrue(busy.getMessage().contains("PD #" + pd.handle()), busy.getMessage());
    await(mr.deregister());
    assertFailsWith(ResourceBusyException.class, pd.dealloc()); // the AH still uses it
    assertEquals(1, pd.useCount());
    ah.destroy();
    assertEquals(0, pd.useCount());
    await(pd.dealloc());

    ProtectionDomain pd2 = await(d.allocPd());
    MemoryRegion only = mr(pd2, ByteBuffer.allocate(64), 0);
    assertFailsWith(ResourceBusyException.class, pd2.dealloc()); // an MR alone keeps it busy
    await(only.deregister());
    await(pd2.dealloc());
  }

  // ---- AH ----

  private static Gid gid(long id) {
    return Gid.linkLocal(id);
  }

  private static VerbsTestDriver ahDriver() {
    return new VerbsTestDriver().ports(2).gidsPerPort(2).ethernet(2); // port 1 InfiniBand, port 2 RoCE
  }

  @Test
  @DisplayName("AH (3.12): createAh with ofLid / ofGid validated against the ports; bad port, sgidIndex out of "
      + "range, dlid 0 without GRH, GRH without dgid, no GRH on an Ethernet port, sl > 15 -> "
      + "InvalidArgumentException naming the field")
  void createAhValidatesAgainstThePorts() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    AhAttr lid = AhAttr.ofLid(1, 0x12);
    AddressHandle ah1 = pd.createAh(lid);
    assertEquals(lid, ah1.query());
    AddressHandle ah2 = pd.createAh(AhAttr.ofGid(2, gid(77)));
    AddressHandle ah3 = pd.createAh(new AhAttr(1, 0, 3, true, gid(78), 1, 1, 255)); // last GID index
    AddressHandle ah4 = pd.createAh(AhAttr.ofLid(1, 0xbfff)); // highest unicast LID
    assertEquals(4, Set.of(ah1.handle(), ah2.handle(), ah3.handle(), ah4.handle()).size(), "distinct handles");
    assertEquals(4, pd.useCount());

    Map<AhAttr, String> bad = new LinkedHashMap<>();
    bad.put(AhAttr.ofLid(0, 5), "portNum");
    bad.put(AhAttr.ofLid(3, 5), "portNum");
    bad.put(AhAttr.ofLid(-1, 5), "portNum");
    bad.put(AhAttr.ofGid(3, gid(1)), "portNum");
    bad.put(new AhAttr(1, 0, 0, true, gid(1), 2, 64, 0), "sgidIndex");
    bad.put(new AhAttr(2, 0, 0, true, gid(1), -1, 64, 0), "sgidIndex");
    bad.put(AhAttr.ofLid(1, 0), "dlid");
    bad.put(AhAttr.ofLid(1, 0xc000), "dlid"); // multicast range
    bad.put(AhAttr.ofLid(1, -3), "dlid");
    bad.put(AhAttr.ofGid(1, null), "dgid");
    bad.put(new AhAttr(2, 0, 0, true, null, 0, 64, 0), "dgid");
    bad.put(AhAttr.ofLid(2, 5), "grh"); // Ethernet port: a GRH is required
    bad.put(new AhAttr(1, 5, 16, false, null, 0, 0, 0), "sl");
    bad.put(new AhAttr(1, 5, -1, false, null, 0, 0, 0), "sl");
    for (Map.Entry<AhAttr, String> e : bad.entrySet()) {
      InvalidArgumentException ex = assertThrows(InvalidArgumentException.class, () -> pd.createAh(e.getKey()),
          e.getKey().toString());
      assertEquals(e.getValue(), ex.field(), e.getKey().toString());
    }
    assertEquals(4, pd.useCount(), "refused AHs do not count");
  }

  @Test
  @DisplayName("AH (3.12): createAh(null) and modify(null) -> InvalidArgumentException naming the argument")
  void nullAhAttrIsAnInvalidArgument() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    assertInstanceOf(InvalidArgumentException.class, catchAny(() -> pd.createAh(null)), "createAh(null)");
    AddressHandle ah = pd.createAh(AhAttr.ofLid(1, 5));
    assertInstanceOf(InvalidArgumentException.class, catchAny(() -> ah.modify(null)), "modify(null)");
    assertEquals(1, pd.useCount());
  }

  private static Throwable catchAny(Runnable r) {
    try {
      r.run();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  @Test
  @DisplayName("AH (3.12): modify validates the new path and may not change the address type; query returns the "
      + "current attributes; destroy twice -> IllegalStateException, and a destroyed AH cannot be used")
  void modifyQueryAndDestroyAh() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    AddressHandle ah = pd.createAh(AhAttr.ofLid(1, 5));
    ah.modify(AhAttr.ofLid(1, 9));
    assertEquals(AhAttr.ofLid(1, 9), ah.query());
    assertEquals("grh", assertThrows(InvalidArgumentException.class,
        () -> ah.modify(AhAttr.ofGid(1, gid(4)))).field());
    assertEquals("portNum", assertThrows(InvalidArgumentException.class,
        () -> ah.modify(AhAttr.ofLid(7, 9))).field());
    assertEquals("dlid", assertThrows(InvalidArgumentException.class,
        () -> ah.modify(AhAttr.ofLid(1, 0))).field());
    assertEquals(AhAttr.ofLid(1, 9), ah.query(), "a refused modify changes nothing");

    AddressHandle roce = pd.createAh(AhAttr.ofGid(2, gid(5)));
    roce.modify(new AhAttr(2, 0, 1, true, gid(6), 1, 2, 3));
    assertEquals(gid(6), roce.query().dgid());
    assertEquals("grh", assertThrows(InvalidArgumentException.class, () -> roce.modify(AhAttr.ofLid(1, 3))).field());

    assertEquals(2, pd.useCount());
    assertTrue(ah.isValid());
    ah.destroy();
    assertFalse(ah.isValid());
    assertEquals(1, pd.useCount());
    IllegalStateException twice = assertThrows(IllegalStateException.class, ah::destroy);
    assertTrue(twice.getMessage().contains("AH #" + ah.handle()), twice.getMessage());
    assertEquals(1, pd.useCount(), "the second destroy did not release the PD again");
    assertThrows(IllegalStateException.class, ah::query);
    assertThrows(IllegalStateException.class, () -> ah.modify(AhAttr.ofLid(1, 4)));
    roce.destroy();
    await(pd.dealloc());
  }

  // ---- atomic context ----

  /** The AH verbs (expected to work) and the may-sleep verbs (expected to be refused), run in a callback. */
  private static Map<String, Object> verbsInCallback(ProtectionDomain pd, MemoryRegion mr) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("atomic", AtomicContext.isAtomic());
    try {
      AddressHandle ah = pd.createAh(AhAttr.ofLid(1, 21));
      ah.modify(AhAttr.ofLid(1, 22));
      r.put("query", ah.query());
      ah.destroy();
      AddressHandle roce = pd.createAh(AhAttr.ofGid(2, gid(9)));
      roce.destroy();
      r.put("ah", "ok");
    } catch (Throwable t) {
      r.put("ah", t);
    }
    r.put("allocPd", attempt(() -> pd.device().allocPd()));
    r.put("registerMr", attempt(() -> pd.registerMr(ByteBuffer.allocate(16), 0)));
    r.put("deregisterMr", attempt(mr::deregister));
    r.put("deallocPd", attempt(pd::dealloc));
    return r;
  }

  private static Object attempt(Supplier<? extends CompletionStage<?>> verb) {
    try {
      verb.get();
      return "not refused";
    } catch (Throwable t) {
      return t;
    }
  }

  private static void assertVerbsInCallback(Map<String, Object> r, ProtectionDomain pd, MemoryRegion mr) {
    assertEquals(Boolean.TRUE, r.get("atomic"), "the callback runs in atomic context");
    assertEquals("ok", r.get("ah"), "create/modify/query/destroy AH in atomic context");
    assertEquals(AhAttr.ofLid(1, 22), r.get("query"));
    for (String verb : List.of("allocPd", "registerMr", "deregisterMr", "deallocPd")) {
      IllegalContextException e = assertInstanceOf(IllegalContextException.class, r.get(verb), verb);
      assertEquals(verb, e.verb());
    }
    assertEquals(1, pd.useCount(), "only the MR uses the PD afterwards");
    assertTrue(mr.isValid(), "the refused deregister did nothing");
    assertSame(mr, keys(pd.device()).lookup(mr.lkey()));
  }

  @Test
  @DisplayName("context (9.1): createAh, modify, query and destroy work inside a CQ completion handler; allocPd, "
      + "registerMr (and deregisterMr, deallocPd) there fail with IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void ahVerbsWorkInACompletionHandlerButSleepingVerbsAreRefused() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(64), AccessFlags.LOCAL_WRITE);
    CompletableFuture<Map<String, Object>> result = new CompletableFuture<>();
    CompletionQueue cq = await(d.createCq(8, c -> result.complete(verbsInCallback(pd, mr)), null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    assertVerbsInCallback(await(result), pd, mr);
  }

  @Test
  @DisplayName("context (9.1): createAh, modify, query and destroy work inside a per-WR done callback "
      + "(PollContext.ACTOR); allocPd, registerMr there fail with IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void ahVerbsWorkInADoneCallbackButSleepingVerbsAreRefused() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(64), AccessFlags.LOCAL_WRITE);
    CompletableFuture<Map<String, Object>> result = new CompletableFuture<>();
    CompletionQueue cq = await(d.allocCq(8, PollContext.ACTOR));
    assertTrue(Internal.push(cq, success(1, (c, wc) -> result.complete(verbsInCallback(pd, mr))), false));
    assertVerbsInCallback(await(result), pd, mr);
  }

  @Test
  @DisplayName("context (9.1): createAh, modify, query and destroy work inside an async event handler; allocPd, "
      + "registerMr (and deregisterMr, deallocPd) there fail with IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void ahVerbsWorkInAnEventHandlerButSleepingVerbsAreRefused() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(64), AccessFlags.LOCAL_WRITE);
    CompletableFuture<Map<String, Object>> result = new CompletableFuture<>();
    await(d.registerEventHandler("verbs-in-handler", e -> result.complete(verbsInCallback(pd, mr))));
    Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.SM_CHANGE, 1));
    assertVerbsInCallback(await(result), pd, mr);
  }

  // ---- unregisterDevice ----

  @Test
  @DisplayName("reclaim (I4, 3.1): a PD and an MR left at unregisterDevice are reported with a warning and "
      + "reclaimed; the MR's keys stop resolving")
  void leftoverPdAndMrAreReportedAndReclaimed() {
    Device d = register();
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocateDirect(128), AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_READ);
    ProtectionDomain cleanPd = await(d.allocPd());
    await(cleanPd.dealloc());
    KeyTable keys = keys(d);
    assertSame(mr, keys.lookup(mr.lkey()));
    String left = " on " + d.name() + " was left after every client's remove: reclaimed";
    LoggingTestKit.warn(Internal.describe(pd) + left).withMdc(java.util.Map.of("midlayer.device", d.name()))
        .expect(kit.system(),
        () -> LoggingTestKit.warn(Internal.describe(mr) + left).expect(kit.system(),
            () -> await(midlayer.unregisterDevice(d))));
    assertFalse(mr.isValid());
    assertNull(keys.lookup(mr.lkey()), "lkey of the reclaimed MR");
    assertNull(keys.lookup(mr.rkey()), "rkey of the reclaimed MR");
    assertEquals(0, pd.useCount(), "the reclaimed MR released the PD");
  }

  @Test
  @DisplayName("lifetime (I4): after unregisterDevice, allocPd, createCq, registerMr, deregisterMr, dealloc, "
      + "createAh and modifyAh fail with DeviceUnregisteredException")
  void verbsOnAnUnregisteredDeviceFail() {
    Device d = register(ahDriver());
    ProtectionDomain pd = await(d.allocPd());
    MemoryRegion mr = mr(pd, ByteBuffer.allocate(64), 0);
    AddressHandle ah = pd.createAh(AhAttr.ofLid(1, 5));
    // The MR, the PD and (tracked since the ownership work) the PD's address handle.
    // Each names who made it: here the test itself, outside any client.
    LoggingTestKit.warn("was left after every client's remove: reclaimed by the midlayer (a client must destroy "
        + "what it created in its remove) (made outside any client's add, remove or context)").withOccurrences(3)
        .expect(kit.system(),
        () -> await(midlayer.unregisterDevice(d)));
    assertVerbFails(DeviceUnregisteredException.class, d::allocPd);
    assertVerbFails(DeviceUnregisteredException.class, () -> d.createCq(8, null, null, null));
    assertVerbFails(DeviceUnregisteredException.class, () -> d.allocCq(8, PollContext.DIRECT));
    assertVerbFails(DeviceUnregisteredException.class, () -> pd.registerMr(ByteBuffer.allocate(64), 0));
    assertVerbFails(DeviceUnregisteredException.class, mr::deregister);
    assertVerbFails(DeviceUnregisteredException.class, pd::dealloc);
    DeviceUnregisteredException e = assertThrows(DeviceUnregisteredException.class,
        () -> pd.createAh(AhAttr.ofLid(1, 6)));
    assertTrue(e.getMessage().contains("createAh") && e.getMessage().contains(d.name()), e.getMessage());
    assertThrows(DeviceUnregisteredException.class, () -> ah.modify(AhAttr.ofLid(1, 7)));
  }
}
