// JAX-WS RI (wsimport) against Ithaca's rich contract
// (gateway/tests/fixtures/rich/rich.wsdl).
//
// gateway/tests/soap_rich.rs runs `wsimport -p ithaca.rich` on the gateway's
// ?wsdl, compiles the generated classes with this file, and runs
// `java RichClient http://HOST:PORT`. Calls every operation on every port
// (document/literal wrapped and rpc/literal, SOAP 1.1 and 1.2), checks every
// value received, and prints `PORT CASE: ok` per case (or
// `PORT CASE: FAILED ...` and exits 1).

import ithaca.rich.Address;
import ithaca.rich.Company;
import ithaca.rich.Contact;
import ithaca.rich.Line;
import ithaca.rich.Order;
import ithaca.rich.OrderRejected;
import ithaca.rich.OrderRejected_Exception;
import ithaca.rich.Person;
import ithaca.rich.Priority;
import ithaca.rich.QuoteRefused;
import ithaca.rich.QuoteRefused_Exception;
import ithaca.rich.QuoteSummary;
import ithaca.rich.Receipt;
import ithaca.rich.Rich;
import ithaca.rich.RichRpc;
import ithaca.rich.RichService;
import ithaca.rich.Session;
import ithaca.rich.Track;
import ithaca.rich.TrackResponse;
import ithaca.rich.Tracking;
import java.math.BigDecimal;
import java.net.URL;
import java.util.Arrays;
import java.util.Collections;
import java.util.Objects;
import javax.xml.ws.Holder;

public class RichClient {
    interface Case {
        void run() throws Exception;
    }

    static boolean failed = false;

    static void check(String label, Object got, Object want) {
        if (!Objects.equals(got, want)) {
            throw new AssertionError(label + ": expected " + want + ", got " + got);
        }
    }

    static void checkDecimal(String label, BigDecimal got, String want) {
        if (got == null || got.compareTo(new BigDecimal(want)) != 0) {
            throw new AssertionError(label + ": expected " + want + ", got " + got);
        }
    }

    static void run(String port, String name, Case body) {
        try {
            body.run();
            System.out.println(port + " " + name + ": ok");
        } catch (Throwable error) {
            failed = true;
            System.out.println(port + " " + name + ": FAILED " + error);
            error.printStackTrace();
        }
    }

    static Address address(String street, String city, String country, String zip) {
        Address a = new Address();
        a.setStreet(street);
        a.setCity(city);
        a.setCountry(country);
        a.setZip(zip);
        return a;
    }

    static Line line(String sku, int quantity, String price, Boolean gift) {
        Line l = new Line();
        l.setSku(sku);
        l.setQuantity(quantity);
        l.setUnitPrice(new BigDecimal(price));
        l.setGift(gift);
        return l;
    }

    static Order companyOrder(int secondQuantity) {
        Order o = new Order();
        o.setCurrency("EUR");
        o.setId("A-17");
        o.setPriority(Priority.HIGH);
        Company c = new Company();
        c.setName("Acme & Sons <Ltd>");
        c.setVatId("DE123");
        o.setCustomer(c);
        Contact contact = new Contact();
        contact.setPhone("+49 30 1234");
        o.setContact(contact);
        o.setShipTo(address("1 Main St", "Zürich", "CH", null));
        o.setBillTo(address("2 Side St", "Bern", "CH", "3000"));
        Order.Lines lines = new Order.Lines();
        lines.getLine().add(line("pen", 3, "1.25", Boolean.TRUE));
        lines.getLine().add(line("ink", secondQuantity, "4.10", null));
        o.setLines(lines);
        o.getTag().addAll(Arrays.asList("rush", "fragile"));
        o.setNote(null);
        return o;
    }

    static Order personOrder() {
        Order o = new Order();
        o.setCurrency("NOK");
        o.setId("B-2");
        o.setPriority(Priority.LOW);
        Person p = new Person();
        p.setName("Ada");
        p.setBirthYear(1970);
        o.setCustomer(p);
        Contact contact = new Contact();
        contact.setEmail("ada@example.org");
        o.setContact(contact);
        o.setShipTo(address("Storgata 1", "Oslo", "NO", "0155"));
        Order.Lines lines = new Order.Lines();
        lines.getLine().add(line("book", 1, "12.5", null));
        o.setLines(lines);
        o.setNote("leave at door");
        return o;
    }

    static void document(String name, Rich port) {
        run(name, "submitOrder company", () -> {
            Receipt r = port.submitOrder(companyOrder(2));
            check("orderId", r.getOrderId(), "A-17");
            check("currency", r.getCurrency(), "EUR");
            check("priority", r.getPriority(), Priority.HIGH);
            check("customer xsi:type", r.getCustomer().getClass().getSimpleName(), "Company");
            check("customer.name", r.getCustomer().getName(), "Acme & Sons <Ltd>");
            check("customer.vatId", ((Company) r.getCustomer()).getVatId(), "DE123");
            check("customerKind", r.getCustomerKind(), "Company");
            check("contactKind", r.getContactKind(), "phone");
            Address ship = r.getShipTo();
            check("shipTo", Arrays.asList(ship.getStreet(), ship.getCity(), ship.getZip(), ship.getCountry()),
                    Arrays.asList("1 Main St", "Zürich", null, "CH"));
            Address bill = r.getBillTo();
            check("billTo", Arrays.asList(bill.getCity(), bill.getZip(), bill.getCountry()),
                    Arrays.asList("Bern", "3000", "CH"));
            check("lineCount", r.getLineCount(), 2);
            check("giftLines", r.getGiftLines(), 1);
            checkDecimal("total", r.getTotal(), "11.95");
            check("tag", r.getTag(), Arrays.asList("RUSH", "FRAGILE"));
            check("note", r.getNote(), null);
        });
        run(name, "submitOrder person", () -> {
            Receipt r = port.submitOrder(personOrder());
            check("customer xsi:type", r.getCustomer().getClass().getSimpleName(), "Person");
            check("customer.birthYear", ((Person) r.getCustomer()).getBirthYear(), 1970);
            check("customerKind", r.getCustomerKind(), "Person");
            check("contactKind", r.getContactKind(), "email");
            check("priority", r.getPriority(), Priority.LOW);
            check("billTo", r.getBillTo(), null);
            check("lineCount", r.getLineCount(), 1);
            checkDecimal("total", r.getTotal(), "12.50");
            check("tag", r.getTag(), Collections.emptyList());
            check("note", r.getNote(), "leave at door");
        });
        run(name, "submitOrder fault", () -> {
            try {
                port.submitOrder(companyOrder(0));
            } catch (OrderRejected_Exception e) {
                check("message", e.getMessage(), "line 2: quantity must be positive");
                OrderRejected d = e.getFaultInfo();
                check("detail", Arrays.asList(d.getOrderId(), d.getLineNumber(), d.getProblem()),
                        Arrays.asList("A-17", 2, "quantity must be positive"));
                return;
            }
            throw new AssertionError("no fault for a line of quantity 0");
        });
        run(name, "track header", () -> {
            Track track = new Track();
            track.setOrderId("A-17");
            Session session = new Session();
            session.setUser("alice");
            session.setTicket(41);
            // The output header part is an OUT Holder beside the body's.
            Holder<TrackResponse> result = new Holder<>();
            Holder<Tracking> tracking = new Holder<>();
            port.track(track, session, result, tracking);
            TrackResponse r = result.value;
            check("track", Arrays.asList(r.getOrderId(), r.getUser(), r.getNextTicket()),
                    Arrays.asList("A-17", "alice", 42));
            if (tracking.value == null) {
                throw new AssertionError("no tracking header");
            }
            check("tracking header", Arrays.asList(tracking.value.getCode(), tracking.value.getHops()),
                    Arrays.asList("A-17/alice", 82));
        });
        // A negative ticket: the declared soap:headerfault. JAX-WS maps a
        // header fault to no exception class and its SOAPFaultException
        // does not carry the fault's Header, so only the fault is checked.
        run(name, "track header fault reason", () -> {
            Track track = new Track();
            track.setOrderId("A-17");
            Session session = new Session();
            session.setUser("alice");
            session.setTicket(-1);
            try {
                port.track(track, session, new Holder<>(), new Holder<>());
            } catch (javax.xml.ws.soap.SOAPFaultException e) {
                check("reason", e.getFault().getFaultString(), "the session ticket is negative");
                check("code", e.getFault().getFaultCodeAsQName().getLocalPart().matches("Client|Sender"), true);
                check("detail", e.getFault().getDetail(), null);
                return;
            }
            throw new AssertionError("no fault for a negative ticket");
        });
    }

    static void rpc(String name, RichRpc port) {
        run(name, "quote", () -> {
            Holder<BigDecimal> total = new Holder<>();
            Holder<QuoteSummary> summary = new Holder<>();
            port.quote("pen", 4, address("Storgata 1", "Oslo", "NO", null), Priority.HIGH, total, summary);
            checkDecimal("total", total.value, "10.00");
            QuoteSummary s = summary.value;
            check("summary", Arrays.asList(s.getText(), s.isExpress(), s.getCountry()),
                    Arrays.asList("4 x pen to Oslo", true, "NO"));
        });
        run(name, "quote fault", () -> {
            try {
                port.quote("pen", 1000, address("s", "c", "NO", null), Priority.LOW, new Holder<>(), new Holder<>());
            } catch (QuoteRefused_Exception e) {
                check("message", e.getMessage(), "at most 999 per quote");
                QuoteRefused d = e.getFaultInfo();
                check("detail", Arrays.asList(d.getSku(), d.getMaxQuantity()), Arrays.asList("pen", 999));
                return;
            }
            throw new AssertionError("no fault for a quantity of 1000");
        });
    }

    public static void main(String[] args) throws Exception {
        RichService service = new RichService(new URL(args[0] + "/services/RichService?wsdl"));
        document("RichSoap11Port", service.getRichSoap11Port());
        document("RichSoap12Port", service.getRichSoap12Port());
        rpc("RichRpcSoap11Port", service.getRichRpcSoap11Port());
        rpc("RichRpcSoap12Port", service.getRichRpcSoap12Port());
        System.exit(failed ? 1 : 0);
    }
}
