/*
 * Minimal RocketMQ produce/consume check used by the rocketmq-pulumi
 * end-to-end tests.  Compiles against rocketmq-client 4.9.x and 5.x.
 *
 *   RmqCheck produce <namesrvAddr> <topic> <count> [--verbose]
 *       sync-sends <count> messages; prints "SENT <ok> <failed>" and
 *       "RETRIED <n>"; exit 0 iff failed == 0.  A send that throws anything
 *       but MQBrokerException (a route query or a request that timed out, and
 *       also a refusal the producer reports after its own retries, wrapped in
 *       MQClientException) is sent again, SEND_ATTEMPTS times in all: a
 *       refused send still fails, a second or two later.  --verbose prints
 *       "KEY <key> <msgId> <queue>" per message.
 *
 *   RmqCheck consume <namesrvAddr> <topic> <group> <expected> <timeoutSeconds> [--verbose]
 *       push-consumes from the first offset (new group) until <expected>
 *       distinct messages arrived or the timeout passed; prints
 *       "RECEIVED <distinct>"; exit 0 iff distinct >= expected.
 *
 *   RmqCheck steady <namesrvAddr> <topic> <group> <perSecond> <drainSeconds>
 *       sends <perSecond> keyed messages a second (sync, RocketMQ's normal
 *       retries) and push-consumes the topic with <group>, until standard
 *       input closes; then stops sending and consumes until every
 *       acknowledged message arrived or <drainSeconds> passed.  Prints
 *       "STEADY sent=.. acked=.. notOk=.. failed=.. received=.. lost=..
 *       duplicates=.. failedFirstMs=.. failedLastMs=.."
 *       (acked: the broker stored it, notOk: of those, not SEND_OK, e.g. a
 *       sync master whose slave was away; failed: an exception after the
 *       retries; lost: acked but never consumed) and "LOST <key>" for the
 *       first lost keys; exit 0 iff lost == 0.
 *
 * Clients refresh topic routes every -Drmqcheck.routeRefreshMs milliseconds
 * (their pollNameServerInterval; RocketMQ's 30000 unless set).  A consumer
 * whose start fails is started again, -Drmqcheck.startAttempts times in all
 * (10 unless set).
 *
 * With RMQCHECK_ACCESS_KEY and RMQCHECK_SECRET_KEY in the environment (never
 * on the command line), every client signs its requests as that user (ACL).
 *
 * Messages are told apart by their key (set by "produce"), or by message id
 * for messages without keys.  namesrvAddr may list several servers
 * separated by ';'.  Exit status 2 means bad usage.
 */

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import org.apache.rocketmq.client.ClientConfig;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.RPCHook;

public final class RmqCheck {
    private static final String TAG = "rmqcheck";
    private static final int MAX_ERRORS_SHOWN = 5;
    // A plain produce's tries per message: a name server that misses the client's 3 s deadline on a
    // just-started, loaded host fails a send before the producer's own retries begin.
    private static final int SEND_ATTEMPTS = 3;
    // A consumer's start attempts (-Drmqcheck.startAttempts; 1 where a refusal is what a check expects).
    private static final int START_ATTEMPTS = Integer.getInteger("rmqcheck.startAttempts", 10);
    // A consumer's heartbeat interval (RocketMQ's default: 30 s). The client's first rebalance sends
    // a heartbeat with the subscription's new version, but skips it when the scheduled heartbeat,
    // due 1 s after start, holds the lock (apache/rocketmq#8970); until the next heartbeat the broker
    // answers every pull "subscription not latest", and the consumer reads nothing.
    private static final int CONSUMER_HEARTBEAT_MS = 3_000;

    private RmqCheck() {
    }

    public static void main(String[] argv) {
        List<String> args = new ArrayList<>(Arrays.asList(argv));
        boolean verbose = args.remove("--verbose");
        int status;
        try {
            if (args.size() == 4 && args.get(0).equals("produce")) {
                status = produce(args.get(1), args.get(2), Integer.parseInt(args.get(3)), verbose);
            } else if (args.size() == 7 && args.get(0).equals("steady")) {
                status = steady(args.get(1), args.get(2), args.get(3), Integer.parseInt(args.get(4)),
                    Long.parseLong(args.get(5)), Integer.parseInt(args.get(6)));
            } else if (args.size() == 6 && args.get(0).equals("consume")) {
                status = consume(args.get(1), args.get(2), args.get(3), Integer.parseInt(args.get(4)),
                    Long.parseLong(args.get(5)), verbose);
            } else {
                status = usage();
            }
        } catch (NumberFormatException e) {
            status = usage();
        } catch (Exception | Error e) {
            // Errors too: uncaught, the client's non-daemon threads would keep the JVM running.
            System.out.println("ERROR " + e);
            status = 1;
        }
        System.out.flush();
        // Client threads (netty, schedulers) may linger; do not wait for them.
        Runtime.getRuntime().halt(status);
    }

    private static int usage() {
        System.err.println("usage: RmqCheck produce <namesrvAddr> <topic> <count> [--verbose]");
        System.err.println("       RmqCheck consume <namesrvAddr> <topic> <group> <expected> <timeoutSeconds> [--verbose]");
        System.err.println("       RmqCheck steady <namesrvAddr> <topic> <group> <perSecond> <drainSeconds> <sendTimeoutMs>");
        return 2;
    }

    /** Every client of this run: its instance name, name servers and route refresh. */
    private static <T extends ClientConfig> T configured(T client, String namesrv, String run) {
        client.setNamesrvAddr(namesrv);
        client.setInstanceName("rmqcheck-" + run);
        Integer refreshMs = Integer.getInteger("rmqcheck.routeRefreshMs");
        if (refreshMs != null) {
            client.setPollNameServerInterval(refreshMs);
        }
        return client;
    }

    /**
     * The ACL signature of the user in RMQCHECK_ACCESS_KEY/RMQCHECK_SECRET_KEY; null without them.
     * Found by name: 5.x has the hook in rocketmq-client, 4.9.x in rocketmq-acl.
     */
    private static RPCHook credentials() {
        String accessKey = System.getenv("RMQCHECK_ACCESS_KEY");
        String secretKey = System.getenv("RMQCHECK_SECRET_KEY");
        if (accessKey == null || secretKey == null) {
            return null;
        }
        try {
            Class<?> sessionCredentials = Class.forName("org.apache.rocketmq.acl.common.SessionCredentials");
            Object signedAs = sessionCredentials.getConstructor(String.class, String.class)
                .newInstance(accessKey, secretKey);
            return (RPCHook) Class.forName("org.apache.rocketmq.acl.common.AclClientRPCHook")
                .getConstructor(sessionCredentials).newInstance(signedAs);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("this RocketMQ client cannot sign requests (no AclClientRPCHook)", e);
        }
    }

    private static DefaultMQProducer producer(String group, String namesrv, String run) {
        return configured(new DefaultMQProducer(group, credentials()), namesrv, run);
    }

    private static String runId() {
        return Long.toString(System.currentTimeMillis(), 36) + "-" + ProcessHandleCompat.pid();
    }

    static int produce(String namesrv, String topic, int count, boolean verbose) throws Exception {
        String run = runId();
        DefaultMQProducer producer = producer("rmqcheck_producer", namesrv, run);
        producer.setSendMsgTimeout(10_000);
        producer.setRetryTimesWhenSendFailed(2);
        producer.start();
        int ok = 0;
        int failed = 0;
        int retried = 0;
        try {
            for (int i = 0; i < count; i++) {
                String key = TAG + "-" + run + "-" + i;
                Message msg = new Message(topic, TAG, key, key.getBytes(StandardCharsets.UTF_8));
                try {
                    SendResult result = null;
                    for (int attempt = 1; result == null; attempt++) {
                        try {
                            result = producer.send(msg);
                        } catch (MQBrokerException e) {
                            throw e;
                        } catch (Exception e) {
                            if (attempt >= SEND_ATTEMPTS) {
                                throw e;
                            }
                            retried++;
                            System.out.println("RETRY send " + key + ": " + e);
                            Thread.sleep(1_000);
                        }
                    }
                    if (result.getSendStatus() == SendStatus.SEND_OK) {
                        ok++;
                    } else {
                        failed++;
                    }
                    if (verbose) {
                        System.out.println("KEY " + key + " " + result.getMsgId() + " "
                            + result.getMessageQueue().getBrokerName() + "/" + result.getMessageQueue().getQueueId()
                            + " " + result.getSendStatus());
                    }
                } catch (Exception e) {
                    failed++;
                    if (failed <= MAX_ERRORS_SHOWN) {
                        System.out.println("ERROR send " + key + ": " + e);
                    }
                }
            }
        } finally {
            producer.shutdown();
        }
        System.out.println("SENT " + ok + " " + failed);
        System.out.println("RETRIED " + retried);
        return failed == 0 ? 0 : 1;
    }

    static int consume(String namesrv, String topic, String group, int expected, long timeoutSeconds,
        boolean verbose) throws Exception {
        final Set<String> seen = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer consumer = startConsumer(namesrv, topic, group, runId(), m -> {
            String id = m.getKeys() != null && !m.getKeys().isEmpty() ? m.getKeys() : m.getMsgId();
            if (seen.add(id) && verbose) {
                System.out.println("GOT " + id + " " + m.getMsgId() + " q"
                    + m.getQueueId() + "@" + m.getQueueOffset() + " from " + m.getStoreHost());
            }
        });
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        try {
            while (seen.size() < expected && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
        } finally {
            shutdownWithin5s(consumer);
        }
        int distinct = seen.size();
        System.out.println("RECEIVED " + distinct);
        return distinct >= expected ? 0 : 1;
    }

    static int steady(String namesrv, String topic, String group, int perSecond, long drainSeconds,
        int sendTimeoutMs) throws Exception {
        String run = runId();
        final String prefix = TAG + "-" + run + "-";
        final Set<String> acked = ConcurrentHashMap.newKeySet();
        final Set<String> seen = ConcurrentHashMap.newKeySet();
        final AtomicLong duplicates = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // the caller closes standard input to stop
                }
            } catch (IOException e) {
                // closed all the same
            }
            stop.set(true);
        }, "rmqcheck-stdin");
        stdin.setDaemon(true);
        stdin.start();

        DefaultMQPushConsumer consumer = startConsumer(namesrv, topic, group, run, m -> {
            String key = m.getKeys();
            if (key != null && key.startsWith(prefix) && !seen.add(key)) {
                duplicates.incrementAndGet();
            }
        });

        DefaultMQProducer producer = producer("rmqcheck_steady_producer", namesrv, run);
        producer.setSendMsgTimeout(sendTimeoutMs);
        producer.start();
        long sent = 0;
        long notOk = 0;
        long failed = 0;
        long failedFirst = 0;
        long failedLast = 0;
        long intervalNanos = 1_000_000_000L / Math.max(1, perSecond);
        long next = System.nanoTime();
        try {
            while (!stop.get()) {
                String key = prefix + sent;
                sent++;
                Message msg = new Message(topic, TAG, key, key.getBytes(StandardCharsets.UTF_8));
                try {
                    SendResult result = producer.send(msg);
                    acked.add(key);
                    if (result.getSendStatus() != SendStatus.SEND_OK) {
                        notOk++;
                    }
                } catch (Exception e) {
                    long now = System.currentTimeMillis();
                    failedFirst = failed == 0 ? now : failedFirst;
                    failedLast = now;
                    failed++;
                    if (failed <= MAX_ERRORS_SHOWN) {
                        System.out.println("ERROR send " + key + ": " + e);
                    }
                }
                next += intervalNanos;
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000L, (int) (wait % 1_000_000L));
                } else {
                    next = System.nanoTime();
                }
            }
        } finally {
            producer.shutdown();
        }
        long deadline = System.nanoTime() + drainSeconds * 1_000_000_000L;
        while (!seen.containsAll(acked) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        shutdownWithin5s(consumer);
        List<String> lost = new ArrayList<>();
        for (String key : acked) {
            if (!seen.contains(key)) {
                lost.add(key);
            }
        }
        for (String key : lost.subList(0, Math.min(20, lost.size()))) {
            System.out.println("LOST " + key);
        }
        System.out.println("STEADY sent=" + sent + " acked=" + acked.size() + " notOk=" + notOk + " failed=" + failed
            + " received=" + seen.size() + " lost=" + lost.size() + " duplicates=" + duplicates.get()
            + " failedFirstMs=" + failedFirst + " failedLastMs=" + failedLast);
        return lost.isEmpty() ? 0 : 1;
    }

    /**
     * A push consumer of the whole topic, from the first offset for a new group. RocketMQ 5 shuts
     * a consumer down when start() fails after it began running (its first route query or
     * heartbeat timed out: a name server or broker slow to answer on a loaded host); an
     * application starts a new one, and so does this check, at most START_ATTEMPTS times.
     */
    private static DefaultMQPushConsumer startConsumer(String namesrv, String topic, String group, String run,
        Consumer<MessageExt> onMessage) throws Exception {
        for (int attempt = 1; ; attempt++) {
            DefaultMQPushConsumer consumer = configured(
                new DefaultMQPushConsumer(group, credentials(), new AllocateMessageQueueAveragely()), namesrv, run);
            consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            consumer.setHeartbeatBrokerInterval(CONSUMER_HEARTBEAT_MS);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(new MessageListenerConcurrently() {
                @Override
                public ConsumeConcurrentlyStatus consumeMessage(List<MessageExt> msgs, ConsumeConcurrentlyContext ctx) {
                    msgs.forEach(onMessage);
                    return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
                }
            });
            try {
                consumer.start();
                return consumer;
            } catch (MQClientException | IllegalStateException e) {
                // 4.9.x leaves the failed consumer running: stop it, or the next one's group clashes.
                shutdownWithin5s(consumer);
                if (attempt >= START_ATTEMPTS) {
                    throw e;
                }
                System.out.println("WARN consumer start, attempt " + attempt + ": " + e);
                Thread.sleep(1_000);
            }
        }
    }

    /** Shuts the consumer down, but waits for its threads no longer than 5 s. */
    private static void shutdownWithin5s(DefaultMQPushConsumer consumer) throws InterruptedException {
        Thread closer = new Thread(consumer::shutdown, "rmqcheck-shutdown");
        closer.setDaemon(true);
        closer.start();
        closer.join(5_000);
    }

    /** Process id without requiring Java 9's ProcessHandle at compile time. */
    private static final class ProcessHandleCompat {
        static String pid() {
            String name = java.lang.management.ManagementFactory.getRuntimeMXBean().getName();
            int at = name.indexOf('@');
            return at > 0 ? name.substring(0, at) : name;
        }
    }
}
