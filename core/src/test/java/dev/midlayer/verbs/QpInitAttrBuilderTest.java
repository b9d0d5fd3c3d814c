package dev.midlayer.verbs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import java.lang.reflect.Proxy;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link QpInitAttr#builder(QpType)}: the same record as the constructors, {@link QpInitAttr#of} and
 * {@link QpInitAttr#withSrq}, the documented defaults (signalAll true, no handler, context or SRQ), and an
 * {@link InvalidArgumentException} naming each missing required part. The builder only holds references, so
 * the CQs and the SRQ are stand-ins with identity equality, not objects of a device.
 */
class QpInitAttrBuilderTest {
  private static final CompletionQueue SEND_CQ = standIn(CompletionQueue.class, "sendCq");
  private static final CompletionQueue RECV_CQ = standIn(CompletionQueue.class, "recvCq");
  private static final SharedReceiveQueue SRQ = standIn(SharedReceiveQueue.class, "srq");
  private static final QpCap CAP = new QpCap(64, 64, 2, 2, 64);

  /** An instance of {@code type} that is only equal to itself; any other method fails. */
  private static <T> T standIn(Class<T> type, String name) {
    return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, m, args) ->
        switch (m.getName()) {
          case "equals" -> proxy == args[0];
          case "hashCode" -> System.identityHashCode(proxy);
          case "toString" -> name;
          default -> throw new UnsupportedOperationException(name + "." + m.getName());
        }));
  }

  @Test
  @DisplayName("builder: every part set gives the record of the canonical constructor")
  void everyPartSetEqualsTheCanonicalConstructor() {
    EventHandler handler = e -> { };
    Object context = new Object();
    QpInitAttr built = QpInitAttr.builder(QpType.RC).sendCq(SEND_CQ).recvCq(RECV_CQ).cap(CAP).signalAll(false)
        .eventHandler(handler).context(context).srq(SRQ).build();
    assertEquals(new QpInitAttr(QpType.RC, SEND_CQ, RECV_CQ, CAP, false, handler, context, SRQ), built);
    assertEquals(new QpInitAttr(QpType.RC, SEND_CQ, RECV_CQ, CAP, false, handler, context).withSrq(SRQ), built);
  }

  @Test
  @DisplayName("builder defaults: signalAll true, no event handler, context or SRQ: the record of QpInitAttr.of")
  void defaultsAreThoseOfOf() {
    QpInitAttr built = QpInitAttr.builder(QpType.UD).cq(SEND_CQ).cap(CAP).build();
    assertEquals(QpInitAttr.of(QpType.UD, SEND_CQ, CAP), built);
    assertTrue(built.signalAll(), "signalAll defaults to true, as in QpInitAttr.of (not rdma-core's 0)");
    assertNull(built.eventHandler());
    assertNull(built.context());
    assertNull(built.srq());
    assertEquals(QpInitAttr.of(QpType.RC, SEND_CQ, CAP).withSrq(SRQ),
        QpInitAttr.builder(QpType.RC).cq(SEND_CQ).cap(CAP).srq(SRQ).build());
  }

  @Test
  @DisplayName("builder: cq(cq) sets both queues; sendCq/recvCq set one, the last call wins")
  void cqSetsBothQueues() {
    QpInitAttr both = QpInitAttr.builder(QpType.UC).cq(RECV_CQ).cap(CAP).build();
    assertSame(RECV_CQ, both.sendCq());
    assertSame(RECV_CQ, both.recvCq());
    QpInitAttr split = QpInitAttr.builder(QpType.UC).cq(RECV_CQ).sendCq(SEND_CQ).cap(CAP).build();
    assertEquals(new QpInitAttr(QpType.UC, SEND_CQ, RECV_CQ, CAP, true, null, null), split);
  }

  @Test
  @DisplayName("builder: built with QpCap.builder() it equals the positional form of the issue")
  void withQpCapBuilderEqualsThePositionalForm() {
    QpInitAttr built = QpInitAttr.builder(QpType.RC).cq(SEND_CQ)
        .cap(QpCap.builder().maxSendWr(64).maxRecvWr(64).maxSendSge(2).maxRecvSge(2).maxInlineData(64).build())
        .build();
    assertEquals(new QpInitAttr(QpType.RC, SEND_CQ, SEND_CQ, new QpCap(64, 64, 2, 2, 64), true, null, null), built);
  }

  static Stream<Arguments> missing() {
    return Stream.of(
        Arguments.of("type", (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(null).cq(SEND_CQ).cap(CAP)),
        Arguments.of("sendCq", (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(QpType.RC).cap(CAP)),
        Arguments.of("sendCq",
            (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(QpType.RC).recvCq(RECV_CQ).cap(CAP)),
        Arguments.of("sendCq", (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(QpType.RC).cq(null).cap(CAP)),
        Arguments.of("recvCq",
            (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(QpType.RC).sendCq(SEND_CQ).cap(CAP)),
        Arguments.of("cap", (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(QpType.RC).cq(SEND_CQ)),
        Arguments.of("cap",
            (Supplier<QpInitAttr.Builder>) () -> QpInitAttr.builder(QpType.RC).cq(SEND_CQ).cap(CAP).cap(null)));
  }

  @ParameterizedTest(name = "{index}: {0} missing")
  @MethodSource("missing")
  @DisplayName("builder: a missing required part is an InvalidArgumentException naming it")
  void missingPartIsNamed(String part, Supplier<QpInitAttr.Builder> builder) {
    QpInitAttr.Builder b = builder.get();
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class, b::build);
    assertEquals(part, e.field());
    assertTrue(e.getMessage().startsWith(part + ": must "), e.getMessage());
  }
}
