/** Internal API: the cq implementation. Not an API; may change without notice. */
package dev.midlayer.internal.cq;
