package dev.midlayer.verbs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link QpCap#builder()}: the same record as the canonical constructor, the documented defaults (SGEs 1,
 * inline 0, WR counts required), and an {@link InvalidArgumentException} naming each missing or negative
 * field.
 */
class QpCapBuilderTest {

  @Test
  @DisplayName("builder: every field set gives the record of the canonical constructor")
  void everyFieldSetEqualsTheCanonicalConstructor() {
    QpCap built = QpCap.builder().maxSendWr(64).maxRecvWr(32).maxSendSge(2).maxRecvSge(3).maxInlineData(128).build();
    assertEquals(new QpCap(64, 32, 2, 3, 128), built);
    assertEquals(built, QpCap.builder().maxInlineData(128).maxRecvSge(3).maxSendSge(2).maxRecvWr(32).maxSendWr(64)
        .build(), "the order of the setters does not matter");
  }

  @Test
  @DisplayName("builder defaults: maxSendSge 1, maxRecvSge 1, maxInlineData 0; 0 is allowed everywhere "
      + "(maxRecvWr 0 with an SRQ)")
  void defaultsAreOneSgeAndNoInlineData() {
    assertEquals(new QpCap(16, 8, 1, 1, 0), QpCap.builder().maxSendWr(16).maxRecvWr(8).build());
    assertEquals(new QpCap(0, 0, 0, 0, 0),
        QpCap.builder().maxSendWr(0).maxRecvWr(0).maxSendSge(0).maxRecvSge(0).maxInlineData(0).build());
  }

  @Test
  @DisplayName("builder: a builder may build again, and changing it later does not change what it built")
  void builderIsReusable() {
    QpCap.Builder b = QpCap.builder().maxSendWr(4).maxRecvWr(4);
    QpCap first = b.build();
    assertEquals(first, b.build());
    assertEquals(new QpCap(4, 4, 1, 1, 64), b.maxInlineData(64).build());
    assertEquals(new QpCap(4, 4, 1, 1, 0), first);
  }

  static Stream<Arguments> missing() {
    return Stream.of(
        Arguments.of("maxSendWr", (UnaryOperator<QpCap.Builder>) b -> b.maxRecvWr(4)),
        Arguments.of("maxRecvWr", (UnaryOperator<QpCap.Builder>) b -> b.maxSendWr(4)),
        Arguments.of("maxSendWr", (UnaryOperator<QpCap.Builder>) b -> b.maxSendSge(2).maxInlineData(16)));
  }

  @ParameterizedTest(name = "{0} not set")
  @MethodSource("missing")
  @DisplayName("builder: a WR count not set is an InvalidArgumentException naming it")
  void missingWrCountIsNamed(String field, UnaryOperator<QpCap.Builder> setOthers) {
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
        () -> setOthers.apply(QpCap.builder()).build());
    assertEquals(field, e.field());
    assertTrue(e.getMessage().contains("must be set"), e.getMessage());
  }

  static Stream<Arguments> negative() {
    return Stream.of(
        Arguments.of("maxSendWr", (UnaryOperator<QpCap.Builder>) b -> b.maxSendWr(-1)),
        Arguments.of("maxRecvWr", (UnaryOperator<QpCap.Builder>) b -> b.maxRecvWr(-1)),
        Arguments.of("maxSendSge", (UnaryOperator<QpCap.Builder>) b -> b.maxSendSge(-1)),
        Arguments.of("maxRecvSge", (UnaryOperator<QpCap.Builder>) b -> b.maxRecvSge(-2)),
        Arguments.of("maxInlineData", (UnaryOperator<QpCap.Builder>) b -> b.maxInlineData(Integer.MIN_VALUE)));
  }

  @ParameterizedTest(name = "{0} negative")
  @MethodSource("negative")
  @DisplayName("builder: a negative value is an InvalidArgumentException naming the field")
  void negativeValueIsNamed(String field, UnaryOperator<QpCap.Builder> spoil) {
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
        () -> spoil.apply(QpCap.builder().maxSendWr(8).maxRecvWr(8)).build());
    assertEquals(field, e.field());
    assertTrue(e.getMessage().startsWith(field + ": must not be negative"), e.getMessage());
  }
}
