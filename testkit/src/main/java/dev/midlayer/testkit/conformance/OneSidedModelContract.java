package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.device.Device;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A seeded random walk of WRITE / READ / FETCH_AND_ADD over 3 RC QP pairs, checked against a plain byte
 * model of every target region and every local buffer. The seed is printed on failure and can be set with
 * {@code -Dmidlayer.test.seed=N}.
 *
 * <p>Seed rules: C1/C2, C5 (random one-sided operations against a byte model). IB spec: IBA vol. 1 §9.4
 * (RDMA WRITE, READ, ATOMIC), §10.6 (memory protection).
 */
public abstract class OneSidedModelContract extends DriverContract {
  private static final int PAIRS = 3;
  private static final int TARGET = 2048;
  private static final int LOCAL = 8192;
  private static final int STEPS = 1000;
  @Test
  @DisplayName("random WRITE/READ/FETCH_AND_ADD over 3 QP pairs: after each completion the memory equals the model, guards unchanged")
  void randomAgainstModel() throws Exception {
    long seed = Long.getLong("midlayer.test.seed", System.nanoTime());
    try {
      run(seed);
    } catch (AssertionError e) {
      throw new AssertionError("seed " + seed + " (rerun with -Dmidlayer.test.seed=" + seed + "): " + e.getMessage(), e);
    }
  }

  private void run(long seed) throws Exception {
    Random rnd = new Random(seed);
    Pair[] pairs = new Pair[PAIRS];
    byte[][] remote = new byte[PAIRS][];
    byte[][] local = new byte[PAIRS][];
    for (int i = 0; i < PAIRS; i++) {
      pairs[i] = OneSidedFixture.pair(f, LOCAL, TARGET, OneSidedFixture.MR_ALL, OneSidedFixture.ALL_REMOTE,
          ConformanceFixture.RELIABLE);
      remote[i] = ConformanceFixture.read(pairs[i].target.mr, 0, TARGET);
      local[i] = new byte[LOCAL];
      ConformanceFixture.fillConst(pairs[i].req.mr, 0, LOCAL, (byte) 0);
    }
    long wrId = 0;
    for (int step = 0; step < STEPS; step++) {
      Runnable[] apply = new Runnable[PAIRS];
      String[] what = new String[PAIRS];
      for (int i = 0; i < PAIRS; i++) {
        Pair p = pairs[i];
        byte[] rm = remote[i];
        byte[] lm = local[i];
        int kind = rnd.nextInt(3);
        if (kind == 0) {
          int len = rnd.nextInt(513);
          int roff = rnd.nextInt(TARGET - len + 1);
          int loff = rnd.nextInt(LOCAL - len + 1);
          byte[] data = new byte[len];
          rnd.nextBytes(data);
          p.req.mr.buffer().put(loff, data);
          System.arraycopy(data, 0, lm, loff, len);
          SendWr.Builder b = SendWr.builder(WrOpcode.RDMA_WRITE).wrId(++wrId).remote(p.addr(roff), p.rkey());
          if (len > 0) {
            b.sge(Sge.of(p.req.mr, loff, len));
          }
          p.req.qp.postSend(b.build());
          apply[i] = () -> System.arraycopy(data, 0, rm, roff, len);
          what[i] = "WRITE " + len + " bytes at " + roff;
        } else if (kind == 1) {
          int len = rnd.nextInt(513);
          int roff = rnd.nextInt(TARGET - len + 1);
          int loff = rnd.nextInt(LOCAL - len + 1);
          SendWr.Builder b = SendWr.builder(WrOpcode.RDMA_READ).wrId(++wrId).remote(p.addr(roff), p.rkey());
          if (len > 0) {
            b.sge(Sge.of(p.req.mr, loff, len));
          }
          p.req.qp.postSend(b.build());
          apply[i] = () -> System.arraycopy(rm, roff, lm, loff, len);
          what[i] = "READ " + len + " bytes from " + roff;
        } else {
          int roff = 8 * rnd.nextInt(TARGET / 8);
          int loff = rnd.nextInt(LOCAL - 8 + 1);
          long add = rnd.nextLong();
          p.req.qp.postSend(SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(++wrId)
              .sge(Sge.of(p.req.mr, loff, 8)).remote(p.addr(roff), p.rkey()).atomic(add, 0).build());
          apply[i] = () -> {
            ByteBuffer r = ByteBuffer.wrap(rm);
            long orig = r.getLong(roff);
            r.putLong(roff, orig + add);
            ByteBuffer.wrap(lm).putLong(loff, orig);
          };
          what[i] = "FETCH_AND_ADD " + add + " at " + roff;
        }
      }
      for (int i = 0; i < PAIRS; i++) {
        WorkCompletion wc = pollOne(pairs[i].req.cq);
        assertEquals(WcStatus.SUCCESS, wc.status(), "step " + step + " pair " + i + " " + what[i] + ": " + wc);
        apply[i].run();
        String ctx = "step " + step + " pair " + i + " after " + what[i];
        assertSame(remote[i], ConformanceFixture.read(pairs[i].target.mr, 0, TARGET), ctx + ": target region");
        assertSame(local[i], ConformanceFixture.read(pairs[i].req.mr, 0, LOCAL), ctx + ": local buffer");
        pairs[i].target.assertGuards(ctx);
      }
    }
  }

  private static void assertSame(byte[] model, byte[] actual, String what) {
    int i = Arrays.mismatch(model, actual);
    if (i >= 0) {
      throw new AssertionError(what + ": first difference at offset " + i + ": model " + model[i] + ", memory "
          + actual[i]);
    }
  }
}
