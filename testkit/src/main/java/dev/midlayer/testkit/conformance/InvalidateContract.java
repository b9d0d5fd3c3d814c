package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.FastRegContract.RWR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.Device;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SEND_WITH_INV (see the IB spec sections below; rxe's IETH handling): the responder invalidates its fast-reg region
 * after placing the data and flags the receive; a key it cannot invalidate is REM_INV_REQ_ERR (RC: both sides,
 * both QPs to ERR; UC: the receive and the responder only).
 *
 * <p>Seed rules: C1/C2 (SEND_WITH_INV is a post). IB spec: IBA vol. 1 §9.4.1 (SEND with invalidate,
 * the IETH), §10.6.5 (remote invalidation).
 */
public abstract class InvalidateContract extends DriverContract {
  @Test
  @DisplayName("RC SEND_WITH_INV of the responder's VALID fast-reg rkey: receive WC SUCCESS, RECV, WITH_INVALIDATE, "
      + "invalidatedRkey, byte_len; the region is FREE and a peer WRITE with that rkey fails REM_ACCESS_ERR")
  void sendWithInvInvalidates() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = FastRegContract.pool(p.resp.pd, FastRegContract.POOL_PAGES);
    MemoryRegion mr = FastRegContract.fastReg(p.resp, pool, new int[] {3, 4}, 0x40000, 2 * Page.SIZE, RWR);
    int key = mr.rkey();
    // The key works before.
    fill(p.req.mr, 0, 128, 31);
    assertOk(FastRegContract.write(p.req, 0, 128, 0x40000, key));

    fill(p.req.mr, 1000, 77, 32);
    p.resp.qp.postRecv(RecvWr.of(40, Sge.of(p.resp.mr, 0, 256)));
    p.req.qp.postSend(SendWr.sendWithInv(41, SendFlags.SIGNALED, key, Sge.of(p.req.mr, 1000, 77)));
    WorkCompletion r = pollOne(p.resp.cq);
    assertOk(r);
    assertEquals(40, r.wrId());
    assertEquals(WcOpcode.RECV, r.opcode());
    assertEquals(WcFlags.WITH_INVALIDATE, r.wcFlags() & WcFlags.WITH_INVALIDATE);
    assertEquals(0, r.wcFlags() & WcFlags.WITH_IMM);
    assertEquals(key, r.invalidatedRkey());
    assertEquals(77, r.byteLen());
    ConformanceFixture.assertBytes(read(p.req.mr, 1000, 77), p.resp.mr, 0, "SEND_WITH_INV payload");
    WorkCompletion s = pollOne(p.req.cq);
    assertOk(s);
    assertEquals(41, s.wrId());
    assertEquals(WcOpcode.SEND, s.opcode());
    assertFalse(mr.isValid(), "the responder's region is FREE");

    byte[] before = FastRegContract.snapshot(pool);
    FastRegContract.assertRemoteAccessError(FastRegContract.write(p.req, 0, 64, 0x40000, key), p.req, p.resp);
    FastRegContract.assertPool(before, pool, "nothing written after the invalidation");
  }

  enum BadKey { UNKNOWN, USER_REGION, STALE_VARIANT, FMR, OTHER_PD }

  @ParameterizedTest(name = "{0}")
  @EnumSource(BadKey.class)
  @DisplayName("RC SEND_WITH_INV of a key the responder cannot invalidate (unknown, USER region, stale variant, FMR, "
      + "another PD's region): "
      + "requester REM_INV_REQ_ERR, receive REM_INV_REQ_ERR, both QPs ERR, the regions untouched")
  void sendWithInvBadKey(BadKey bad) throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = FastRegContract.pool(p.resp.pd, FastRegContract.POOL_PAGES);
    MemoryRegion mr = FastRegContract.fastReg(p.resp, pool, new int[] {1}, 0x40000, Page.SIZE, RWR);
    Fmr fmr = null;
    MemoryRegion other = null;
    int key;
    switch (bad) {
      case UNKNOWN -> key = FastRegContract.unknownKey(mr.rkey());
      case USER_REGION -> key = p.target.mr.rkey();
      case STALE_VARIANT -> key = FastRegContract.staleVariant(mr.rkey());
      case FMR -> {
        fmr = await(p.resp.pd.allocFmr(RWR, 1));
        key = fmr.mapPhys(FastRegContract.pages(pool, 5), 0x60000);
      }
      case OTHER_PD -> {
        ConformanceFixture.Side o = FastRegContract.otherPdSide(f, p.resp);
        other = FastRegContract.fastReg(o, o.mr, new int[] {0}, 0x40000, Page.SIZE, RWR);
        key = other.rkey();
      }
      default -> throw new AssertionError(bad);
    }
    p.resp.qp.postRecv(RecvWr.of(40, Sge.of(p.resp.mr, 0, 256)));
    p.req.qp.postSend(SendWr.sendWithInv(41, SendFlags.SIGNALED, key, Sge.of(p.req.mr, 0, 16)));
    WorkCompletion r = pollOne(p.resp.cq);
    assertEquals(40, r.wrId());
    assertEquals(WcStatus.REM_INV_REQ_ERR, r.status(), () -> bad + ": receive " + r);
    WorkCompletion s = pollOne(p.req.cq);
    assertEquals(41, s.wrId());
    assertEquals(WcStatus.REM_INV_REQ_ERR, s.status(), () -> bad + ": requester " + s);
    awaitState(p.req.qp, QpState.ERR);
    awaitState(p.resp.qp, QpState.ERR);
    assertTrue(mr.isValid(), "the fast-reg region is still VALID");
    assertTrue(p.target.mr.isValid(), "the USER region is still valid");
    if (fmr != null) {
      assertTrue(fmr.isMapped(), "the FMR is still mapped");
      assertEquals(key, fmr.rkey(), "with the same key");
    }
    if (other != null) {
      assertTrue(other.isValid(), "the other PD's region is still VALID");
    }
    assertCqEmpty(p.resp.cq);
    assertCqEmpty(p.req.cq);
  }

  @Test
  @DisplayName("UC SEND_WITH_INV: the receive has WITH_INVALIDATE and the key, the region is FREE; with a bad key the "
      + "receive completes REM_INV_REQ_ERR and the UC responder goes to ERR (the requester completes SUCCESS)")
  void ucSendWithInv() throws Exception {
    ConformanceFixture.Side[] s = FastRegContract.pair(f, QpType.UC);
    ConformanceFixture.Side req = s[0];
    ConformanceFixture.Side resp = s[1];
    MemoryRegion pool = FastRegContract.pool(resp.pd, FastRegContract.POOL_PAGES);
    MemoryRegion mr = FastRegContract.fastReg(resp, pool, new int[] {2}, 0x50000, Page.SIZE, RWR);
    int key = mr.rkey();
    fill(req.mr, 0, 40, 33);
    resp.qp.postRecv(List.of(RecvWr.of(50, Sge.of(resp.mr, 0, 64)), RecvWr.of(51, Sge.of(resp.mr, 64, 64))));
    req.qp.postSend(SendWr.sendWithInv(1, SendFlags.SIGNALED, key, Sge.of(req.mr, 0, 40)));
    WorkCompletion r = pollOne(resp.cq);
    assertOk(r);
    assertEquals(50, r.wrId());
    assertEquals(WcOpcode.RECV, r.opcode());
    assertEquals(WcFlags.WITH_INVALIDATE, r.wcFlags() & WcFlags.WITH_INVALIDATE);
    assertEquals(key, r.invalidatedRkey());
    assertEquals(40, r.byteLen());
    assertOk(pollOne(req.cq));
    assertFalse(mr.isValid());

    // A bad key: a USER region's, which cannot be invalidated.
    req.qp.postSend(SendWr.sendWithInv(2, SendFlags.SIGNALED, resp.mr.lkey(), Sge.of(req.mr, 0, 8)));
    WorkCompletion bad = pollOne(resp.cq);
    assertEquals(51, bad.wrId());
    assertEquals(WcStatus.REM_INV_REQ_ERR, bad.status(), () -> "receive " + bad);
    awaitState(resp.qp, QpState.ERR);
    WorkCompletion sent = pollOne(req.cq);
    assertEquals(2, sent.wrId());
    assertOk(sent);
    assertEquals(QpState.RTS, req.qp.state(), "UC: the requester knows nothing of the failure");
    assertTrue(resp.mr.isValid());
  }
}
