/*
 * Minimal RocketMQ produce/consume check used by the rocketmq-pulumi
 * end-to-end tests.  Compiles against rocketmq-client 4.9.x and 5.x.
 *
 *   RmqCheck produce <namesrvAddr> <topic> <count> [--verbose]
 *       sync-sends <count> messages; prints "SENT <ok> <failed>";
 *       exit 0 iff failed == 0.  --verbose prints "KEY <key> <msgId> <queue>"
 *       per message.
 *
 *   RmqCheck consume <namesrvAddr> <topic> <group> <expected> <timeoutSeconds> [--verbose]
 *       push-consumes from the first offset (new group) until <expected>
 *       distinct messages arrived or the timeout passed; prints
 *       "RECEIVED <distinct>"; exit 0 iff distinct >= expected.
 *
 * Messages are told apart by their key (set by "produce"), or by message id
 * for messages without keys.  namesrvAddr may list several servers
 * separated by ';'.  Exit status 2 means bad usage.
 */

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

public final class RmqCheck {
    private static final String TAG = "rmqcheck";
    private static final int MAX_ERRORS_SHOWN = 5;

    private RmqCheck() {
    }

    public static void main(String[] argv) {
        List<String> args = new ArrayList<>(Arrays.asList(argv));
        boolean verbose = args.remove("--verbose");
        int status;
        try {
            if (args.size() == 4 && args.get(0).equals("produce")) {
                status = produce(args.get(1), args.get(2), Integer.parseInt(args.get(3)), verbose);
            } else if (args.size() == 6 && args.get(0).equals("consume")) {
                status = consume(args.get(1), args.get(2), args.get(3), Integer.parseInt(args.get(4)),
                    Long.parseLong(args.get(5)), verbose);
            } else {
                status = usage();
            }
        } catch (NumberFormatException e) {
            status = usage();
        } catch (Exception e) {
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
        return 2;
    }

    private static String runId() {
        return Long.toString(System.currentTimeMillis(), 36) + "-" + ProcessHandleCompat.pid();
    }

    static int produce(String namesrv, String topic, int count, boolean verbose) throws Exception {
        String run = runId();
        DefaultMQProducer producer = new DefaultMQProducer("rmqcheck_producer");
        producer.setNamesrvAddr(namesrv);
        producer.setInstanceName("rmqcheck-" + run);
        producer.setSendMsgTimeout(10_000);
        producer.setRetryTimesWhenSendFailed(2);
        producer.start();
        int ok = 0;
        int failed = 0;
        try {
            for (int i = 0; i < count; i++) {
                String key = TAG + "-" + run + "-" + i;
                Message msg = new Message(topic, TAG, key, key.getBytes(StandardCharsets.UTF_8));
                try {
                    SendResult result = producer.send(msg);
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
        return failed == 0 ? 0 : 1;
    }

    static int consume(String namesrv, String topic, String group, int expected, long timeoutSeconds,
        boolean verbose) throws Exception {
        final Set<String> seen = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setInstanceName("rmqcheck-" + runId());
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(new MessageListenerConcurrently() {
            @Override
            public ConsumeConcurrentlyStatus consumeMessage(List<MessageExt> msgs, ConsumeConcurrentlyContext ctx) {
                for (MessageExt m : msgs) {
                    String id = m.getKeys() != null && !m.getKeys().isEmpty() ? m.getKeys() : m.getMsgId();
                    if (seen.add(id) && verbose) {
                        System.out.println("GOT " + id + " " + m.getMsgId() + " q"
                            + m.getQueueId() + "@" + m.getQueueOffset() + " from " + m.getStoreHost());
                    }
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            }
        });
        consumer.start();
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        try {
            while (seen.size() < expected && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
        } finally {
            Thread closer = new Thread(consumer::shutdown, "rmqcheck-shutdown");
            closer.setDaemon(true);
            closer.start();
            closer.join(5_000);
        }
        int distinct = seen.size();
        System.out.println("RECEIVED " + distinct);
        return distinct >= expected ? 0 : 1;
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
