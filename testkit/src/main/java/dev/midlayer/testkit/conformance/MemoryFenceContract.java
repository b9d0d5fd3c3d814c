package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.RepeatedTest;

/**
 * The may-sleep verbs that kill a key (deregister, FMR unmap and dealloc) complete only once no transfer
 * touches the old memory any more: a peer streams large RDMA WRITEs into the region, alternating two
 * patterns, while the region is torn down; the memory seen right after the verb completes must never
 * change again.
 *
 * <p>Seed rules: C4 and C15 (deregister may sleep, and returns only when no access to the region can still
 * happen). IB spec: IBA vol. 1 §10.6.2 (deregistration).
 */
public abstract class MemoryFenceContract extends DriverContract {
  private static final int SIZE = 8 << 20;
  @RepeatedTest(8)
  @DisplayName("deregister completes only after a WRITE in flight into the region finished: its memory never "
      + "changes afterwards")
  void deregisterWaitsForTransfers() throws Exception {
    ConformanceFixture.Side[] p = pair();
    ByteBuffer bytes = ByteBuffer.allocateDirect(SIZE);
    MemoryRegion target = await(p[1].pd.registerMr(bytes, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE));
    assertStillAfter(p, target.iova(), target.rkey(), SIZE, bytes, SIZE - 1, target::deregister);
  }

  @RepeatedTest(4)
  @DisplayName("FMR unmap and dealloc complete only after a WRITE in flight into its pages finished")
  void fmrUnmapWaitsForTransfers() throws Exception {
    ConformanceFixture.Side[] p = pair();
    ByteBuffer bytes = ByteBuffer.allocateDirect(SIZE);
    MemoryRegion pool = await(p[1].pd.registerMr(bytes, AccessFlags.LOCAL_WRITE));
    int maxPages = p[1].dev.attributes().maxFastRegPageListLen();
    Fmr fmr = await(p[1].pd.allocFmr(AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE, maxPages));
    List<Page> pages = new ArrayList<>();
    for (int i = 0; i < maxPages; i++) {
      pages.add(pool.page(pool.pageCount() - 1 - i)); // backwards: every page boundary is a jump
    }
    int key = fmr.mapPhys(pages, 0x10_0000_0000L);
    // The stream's last byte is the last byte of the last page mapped.
    int lastByte = (pool.pageCount() - maxPages + 1) * Page.SIZE - 1;
    assertStillAfter(p, 0x10_0000_0000L, key, maxPages * Page.SIZE, bytes, lastByte, fmr::unmap);
    await(fmr.dealloc());
  }

  private ConformanceFixture.Side[] pair() throws Exception {
    ConformanceFixture.Side a = f.side(256, 2 * SIZE, null);
    ConformanceFixture.Side b = f.side(256, 4096, null);
    ConformanceFixture.createQp(a, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(b, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.connect(a, b, ConformanceFixture.RELIABLE, OneSidedFixture.params(OneSidedFixture.ALL_REMOTE, 16));
    // Two source patterns: consecutive WRITEs always change every byte they cover.
    ConformanceFixture.fillConst(a.mr, 0, SIZE, (byte) 0x11);
    ConformanceFixture.fillConst(a.mr, SIZE, SIZE, (byte) 0x22);
    return new ConformanceFixture.Side[] {a, b};
  }

  /**
   * Streams WRITEs of {@code length} bytes from another thread, kills the key with {@code kill} once some landed,
   * reads the stream's last byte and then takes a snapshot as soon as it completes, lets the stream run into the dead key, and checks that the
   * memory still equals the snapshot.
   */
  private void assertStillAfter(ConformanceFixture.Side[] p, long iova, int rkey, int length, ByteBuffer bytes,
      int lastByte, Supplier<CompletionStage<?>> kill) throws Exception {
    ConformanceFixture.Side a = p[0];
    CompletableFuture<WcStatus> streamEnd = new CompletableFuture<>();
    int[] landed = {0};
    Thread writer = new Thread(() -> {
      try {
        CompletionQueue cq = a.cq;
        int outstanding = 0;
        long next = 0;
        while (true) {
          while (outstanding < 4) {
            long src = (next++ & 1) * SIZE;
            a.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(next).flags(SendFlags.SIGNALED)
                .sge(Sge.of(a.mr, src, length)).remote(iova, rkey).build());
            outstanding++;
          }
          WorkCompletion wc = cq.poll();
          if (wc == null) {
            Thread.onSpinWait();
            continue;
          }
          outstanding--;
          if (!wc.ok()) {
            streamEnd.complete(wc.status());
            return;
          }
          synchronized (landed) {
            landed[0]++;
          }
        }
      } catch (RuntimeException e) {
        streamEnd.completeExceptionally(e);
      }
    });
    writer.start();
    ConformanceFixture.awaitTrue("WRITEs landing", () -> {
      synchronized (landed) {
        return landed[0] >= 10;
      }
    });
    await(kill.get());
    // A WRITE still running would write its last byte last: read that one first.
    byte last = bytes.get(lastByte);
    ByteBuffer snapshot = ByteBuffer.allocate(SIZE);
    snapshot.put(bytes.duplicate().clear()).flip();
    assertEquals(WcStatus.REM_ACCESS_ERR, streamEnd.get(30, TimeUnit.SECONDS), "the stream ends at the dead key");
    writer.join(10_000);
    assertEquals(last, bytes.get(lastByte), "the last byte of a WRITE still running changed after the key died");
    assertTrue(snapshot.equals(bytes.duplicate().clear()), "the memory changed after the key died");
  }
}
