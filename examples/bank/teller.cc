// The legacy teller: an omniORB C++ program that moves money between two
// Ithaca banks through the gateway's IIOP front. It knows nothing of SOAP
// or WS-AtomicTransaction: it calls the CORBA object the gateway publishes
// for the TransferService, with the IDL that `ithaca wsdl2idl` derives from
// the service's WSDL (module ithaca_transfer, interface TransferPortType).
//
// Build (see examples/bank/README.md):
//   ithaca wsdl2idl services/wsdl/transfer.wsdl -o transfer.idl
//   omniidl -bcxx transfer.idl
//   g++ -o teller teller.cc transferSK.cc $(pkg-config --cflags --libs omniORB4)
//
// Run, with the corbaloc (or IOR) `ithaca serve` prints for the object
// `Transfer` (or reads from GET /bridge/objects):
//   teller REFERENCE transfer FROM_BANK FROM_ACCOUNT TO_BANK TO_ACCOUNT CENTS
//   teller REFERENCE balance BANK ACCOUNT
//   teller REFERENCE total
//
// Prints one line: `transactionId=ID outcome=Committed|Aborted`,
// `balance=CENTS`, `total=CENTS accounts=N`; the declared fault as
// `refused=InsufficientFunds bank=... account=... balance=... requested=...
// transactionId=...` (exit 1); a CORBA system exception as
// `system=NAME minor=0x...` (exit 3).
#include "transfer.hh"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

using namespace ithaca_transfer;

static std::string narrow(const CORBA::WChar* w) {
  std::string out;
  for (; w && *w; ++w) out.push_back(*w < 128 ? static_cast<char>(*w) : '?');
  return out;
}

static CORBA::WChar* widen(const char* s) {
  size_t n = std::strlen(s);
  CORBA::WChar* w = CORBA::wstring_alloc(static_cast<CORBA::ULong>(n));
  for (size_t i = 0; i < n; ++i) w[i] = static_cast<unsigned char>(s[i]);
  w[n] = 0;
  return w;
}

static int usage() {
  std::cerr << "usage: teller REFERENCE transfer FROM_BANK FROM_ACCOUNT TO_BANK TO_ACCOUNT CENTS\n"
               "       teller REFERENCE balance BANK ACCOUNT\n"
               "       teller REFERENCE total"
            << std::endl;
  return 2;
}

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
  if (argc < 3) return usage();
  std::string command = argv[2];
  int status = 0;
  try {
    CORBA::Object_var object = orb->string_to_object(argv[1]);
    TransferPortType_var teller = TransferPortType::_narrow(object);
    if (CORBA::is_nil(teller)) {
      std::cout << "not a TransferPortType" << std::endl;
      return 4;
    }
    if (command == "transfer" && argc == 8) {
      CORBA::WString_var from_bank = widen(argv[3]);
      CORBA::WString_var from_account = widen(argv[4]);
      CORBA::WString_var to_bank = widen(argv[5]);
      CORBA::WString_var to_account = widen(argv[6]);
      CORBA::LongLong amount = std::strtoll(argv[7], nullptr, 10);
      CORBA::WString_var transaction;
      Outcome outcome = Aborted;
      teller->Transfer(from_bank.in(), from_account.in(), to_bank.in(), to_account.in(),
                       amount, transaction.out(), outcome);
      std::cout << "transactionId=" << narrow(transaction.in())
                << " outcome=" << (outcome == Committed ? "Committed" : "Aborted") << std::endl;
    } else if (command == "balance" && argc == 5) {
      CORBA::WString_var bank = widen(argv[3]);
      CORBA::WString_var account = widen(argv[4]);
      Cents balance = 0;
      teller->Balance(bank.in(), account.in(), balance);
      std::cout << "balance=" << balance << std::endl;
    } else if (command == "total" && argc == 3) {
      Cents total = 0;
      CORBA::LongLong accounts = 0;
      teller->Total(total, accounts);
      std::cout << "total=" << total << " accounts=" << accounts << std::endl;
    } else {
      return usage();
    }
  } catch (InsufficientFunds& e) {
    std::cout << "refused=InsufficientFunds bank=" << narrow(e.bank.in())
              << " account=" << narrow(e.account.in()) << " balance=" << e.balance
              << " requested=" << e.requested
              << " transactionId=" << narrow(e.transactionId.in()) << std::endl;
    status = 1;
  } catch (CORBA::SystemException& e) {
    std::cout << "system=" << e._name() << " minor=0x" << std::hex << e.minor() << std::dec
              << std::endl;
    status = 3;
  }
  orb->destroy();
  return status;
}
